"""Linear algebra shared by the kernel bases: null spaces and orthonormalisation."""

from __future__ import annotations

import numpy as np

__all__ = ["canonical_signs", "null_space", "orthonormal_coefficients"]


def null_space(constraints: list[np.ndarray], dim: int) -> np.ndarray:
    """Orthonormal basis (rows) of ``{v : A v = 0 for every A in constraints}``.

    With no constraints the answer is the identity, in order, so an
    unconstrained space keeps its natural coordinates.  The null space is the
    zero eigenspace of the ``dim x dim`` Gram matrix ``sum A^T A`` (one small
    symmetric eigenproblem, however many constraints there are).
    """
    if not constraints:
        return np.eye(dim)
    gram = sum(a.T @ a for a in constraints)
    if not np.any(np.abs(gram) > 1e-12):
        return np.eye(dim)
    evals, evecs = np.linalg.eigh(gram)
    # the constraints are differences of orthogonal matrices: nonzero eigenvalues are O(1)
    tol = 1e-8 * max(1.0, float(evals[-1]))
    basis = evecs[:, evals < tol].T
    return canonical_signs(basis)


def orthonormal_coefficients(gram: np.ndarray, rel_tol: float = 1e-6) -> np.ndarray:
    """Coefficients ``T`` (rows) such that ``T @ V`` is an orthonormal basis of the span of ``V``'s rows.

    Only the Gram matrix ``V V^T`` is needed.  Directions whose singular value
    is below ``rel_tol`` times the largest are dropped (e.g. harmonics that
    alias to nothing on a small grid); the strongest direction comes first.
    A second, symmetric re-orthonormalisation polishes the rounding error of
    the first step, so the rows of ``T @ V`` are orthonormal to ~1e-14.
    """
    if gram.shape[0] == 0:
        return np.zeros((0, 0))
    evals, evecs = np.linalg.eigh(gram)
    if evals[-1] <= 0:
        return np.zeros((0, gram.shape[0]))
    keep = evals > (rel_tol**2) * evals[-1]
    coeffs = (evecs[:, keep] / np.sqrt(evals[keep])).T[::-1]
    e2, v2 = np.linalg.eigh(coeffs @ gram @ coeffs.T)
    return np.ascontiguousarray(((v2 / np.sqrt(e2)) @ v2.T) @ coeffs)


def canonical_signs(rows: np.ndarray) -> np.ndarray:
    """Flip each row so its largest-magnitude entry is positive (deterministic output)."""
    rows = rows.copy()
    for i in range(rows.shape[0]):
        j = int(np.argmax(np.abs(rows[i])))
        if rows[i, j] < 0:
            rows[i] = -rows[i]
    return rows
