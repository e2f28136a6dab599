"""Linear algebra shared by the kernel bases: null spaces and orthonormalisation."""

from __future__ import annotations

import numpy as np

__all__ = ["null_space", "orthonormal_rows"]


def null_space(constraints: list[np.ndarray], dim: int) -> np.ndarray:
    """Orthonormal basis (rows) of ``{v : A v = 0 for every A in constraints}``.

    With no constraints the answer is the identity, in order, so an
    unconstrained space keeps its natural coordinates.
    """
    if not constraints:
        return np.eye(dim)
    a = np.concatenate(constraints, axis=0)
    if not np.any(np.abs(a) > 1e-12):
        return np.eye(dim)
    _, s, vt = np.linalg.svd(a, full_matrices=True)
    tol = 1e-9 * max(1.0, s.max(initial=0.0))
    rank = int(np.sum(s > tol))
    basis = vt[rank:]
    return _canonical_signs(basis)


def orthonormal_rows(vectors: np.ndarray, rel_tol: float = 1e-6) -> np.ndarray:
    """Orthonormal basis (rows) of the span of the rows of ``vectors``.

    Directions whose singular value is below ``rel_tol`` times the largest are
    dropped (e.g. harmonics that alias to nothing on a small grid).
    """
    if vectors.shape[0] == 0:
        return vectors
    _, s, vt = np.linalg.svd(vectors, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return vectors[:0]
    rank = int(np.sum(s > rel_tol * s[0]))
    return _canonical_signs(vt[:rank])


def _canonical_signs(rows: np.ndarray) -> np.ndarray:
    """Flip each row so its largest-magnitude entry is positive (deterministic output)."""
    rows = rows.copy()
    for i in range(rows.shape[0]):
        j = int(np.argmax(np.abs(rows[i])))
        if rows[i, j] < 0:
            rows[i] = -rows[i]
    return rows
