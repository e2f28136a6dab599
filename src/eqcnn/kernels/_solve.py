"""Linear algebra shared by the kernel bases: null spaces and orthonormalisation."""

from __future__ import annotations

import numpy as np

__all__ = ["canonical_signs", "null_space", "orthonormal_coefficients"]


def _gram_schmidt(gram: np.ndarray, candidates: np.ndarray, tol: float) -> np.ndarray:
    """Coefficient rows ``T`` with ``T G T^T = I``: Gram-Schmidt of the candidate vectors, in order.

    Vectors live in the space where ``<u, v> = u^T G v``; ``candidates`` holds
    one candidate per row.  A candidate whose residual (after projecting out
    the earlier ones, twice for stability) has squared norm below ``tol``
    times its own is dropped.  The result depends continuously on ``gram``
    (no eigenvector of a repeated eigenvalue is ever chosen), so the basis is
    the same on every machine up to rounding.
    """
    n = gram.shape[0]
    rows = np.zeros((min(len(candidates), n), n))
    k = 0
    for c in candidates:
        gc = gram @ c
        own = float(c @ gc)
        if own <= 0:
            continue
        r = c
        for _ in range(2):
            if k:
                t = rows[:k]
                r = r - t.T @ (t @ gc)
                gc = gram @ r
        norm2 = float(r @ gc)
        if norm2 > tol * own:
            rows[k] = r / np.sqrt(norm2)
            k += 1
            if k == n:
                break
    return rows[:k].copy()


def null_space(constraints: list[np.ndarray], dim: int) -> np.ndarray:
    """Orthonormal basis (rows) of ``{v : A v = 0 for every A in constraints}``.

    With no constraints the answer is the identity, in order, so an
    unconstrained space keeps its natural coordinates.  Otherwise the
    projector onto the null space (the zero eigenspace of ``sum A^T A``,
    unique however its eigenvectors are chosen) is applied to the standard
    basis vectors, which are then orthonormalised in order: a canonical
    basis, reproducible across machines.
    """
    if not constraints:
        return np.eye(dim)
    gram = sum(a.T @ a for a in constraints)
    if not np.any(np.abs(gram) > 1e-12):
        return np.eye(dim)
    evals, evecs = np.linalg.eigh(gram)
    # the constraints are differences of orthogonal matrices: nonzero eigenvalues are O(1)
    tol = 1e-8 * max(1.0, float(evals[-1]))
    v = evecs[:, evals < tol]
    if v.shape[1] == 0:
        return np.zeros((0, dim))
    projector = v @ v.T
    projector[np.abs(projector) < 1e-14] = 0.0
    return _gram_schmidt(np.eye(dim), projector, 1e-8)


def orthonormal_coefficients(gram: np.ndarray, rel_tol: float = 1e-6) -> np.ndarray:
    """Coefficients ``T`` (rows) such that ``T @ V`` is an orthonormal basis of the span of ``V``'s rows.

    Only the Gram matrix ``G = V V^T`` is needed.  The rows of ``V`` are
    orthonormalised in order (Gram-Schmidt in coefficient space); a row whose
    part outside the span of the earlier ones is below ``rel_tol`` of its norm
    is dropped (e.g. harmonics that alias to nothing on a small grid).  A
    final symmetric re-orthonormalisation, ``(T G T^T)^-1/2 T``, polishes the
    rounding error, so the rows of ``T @ V`` are orthonormal to ~1e-14.  Both
    steps are continuous in ``G``: the basis is reproducible across machines.
    """
    n = gram.shape[0]
    if n == 0:
        return np.zeros((0, 0))
    coeffs = _gram_schmidt(gram, np.eye(n), rel_tol**2)
    if coeffs.shape[0] == 0:
        return coeffs
    e2, v2 = np.linalg.eigh(coeffs @ gram @ coeffs.T)
    return np.ascontiguousarray(((v2 / np.sqrt(e2)) @ v2.T) @ coeffs)


def canonical_signs(rows: np.ndarray, rel_tol: float = 1e-9) -> np.ndarray:
    """The sign (+1 or -1) per row that makes its largest-magnitude entry positive, ties broken by position.

    Entries within ``rel_tol`` of the row's largest magnitude count as tied, and
    the first of them (in the row's order) decides: so rounding in the last
    bits (another BLAS, another thread count) cannot pick another entry and
    flip the row, as a plain ``argmax`` of the magnitudes does when symmetric
    filters have several equally large entries of both signs.
    """
    mags = np.abs(rows)
    top = mags.max(axis=1, keepdims=True) if rows.size else mags
    first = np.argmax(mags >= top * (1.0 - rel_tol), axis=1)
    signs = np.sign(rows[np.arange(rows.shape[0]), first])
    signs[signs == 0] = 1.0
    return signs
