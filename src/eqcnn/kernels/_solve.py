"""Linear algebra shared by the kernel bases: null spaces and orthonormalisation."""

from __future__ import annotations

import numpy as np

__all__ = ["canonical_signs", "null_space", "orthonormal_coefficients", "orthonormal_components"]


def _gram_schmidt(
    gram: np.ndarray, candidates: np.ndarray, tol: float, block: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficient rows ``T`` with ``T G T^T = I``: Gram-Schmidt of the candidate vectors, in order.

    Vectors live in the space where ``<u, v> = u^T G v``; ``candidates`` holds
    one candidate per row.  A candidate whose residual (after projecting out
    the earlier ones, twice for stability) has squared norm below ``tol``
    times its own is dropped.  The result depends continuously on ``gram``
    (no eigenvector of a repeated eigenvalue is ever chosen), so the basis is
    the same on every machine up to rounding.

    Candidates are taken ``block`` at a time: the rows accepted before the
    block are projected out of all of them with matrix products, then the
    block is orthonormalised in order, carrying ``G r`` along with each
    residual ``r``.  The same vectors as one candidate at a time, to rounding,
    with O(n^3) work in BLAS-3 instead of a Python loop of matrix-vector
    products (a 1,584-dimensional Gram matrix took 6 s that way).

    Returns ``T`` and the indices of the candidates kept (one per row of ``T``).
    """
    n = gram.shape[0]
    rows = np.zeros((min(len(candidates), n), n))
    g_rows = np.zeros_like(rows)  # G t for each accepted row t
    kept = np.zeros(len(rows), dtype=np.int64)
    k = 0
    for start in range(0, len(candidates), block):
        if k == n:
            break
        r = np.array(candidates[start : start + block], dtype=float)
        gr = r @ gram  # gram is symmetric: rows of G r
        own = np.einsum("ij,ij->i", r, gr)
        for _ in range(2):  # project out the rows accepted before this block
            if k:
                proj = gr @ rows[:k].T
                r -= proj @ rows[:k]
                gr -= proj @ g_rows[:k]
        first = k
        for b in range(len(r)):
            if own[b] <= 0:
                continue
            rb, gb = r[b], gr[b]
            for _ in range(2):  # and the rows accepted from this block so far
                if k > first:
                    proj = rows[first:k] @ gb
                    rb = rb - proj @ rows[first:k]
                    gb = gb - proj @ g_rows[first:k]
            norm2 = float(rb @ gb)
            if norm2 > tol * own[b]:
                scale = 1.0 / np.sqrt(norm2)
                rows[k], g_rows[k], kept[k] = rb * scale, gb * scale, start + b
                k += 1
                if k == n:
                    break
    return rows[:k].copy(), kept[:k].copy()


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
    return _gram_schmidt(np.eye(dim), projector, 1e-8)[0]


def orthonormal_coefficients(gram: np.ndarray, rel_tol: float = 1e-6) -> np.ndarray:
    """Coefficients ``T`` (rows) such that ``T @ V`` is an orthonormal basis of the span of ``V``'s rows.

    Only the Gram matrix ``G = V V^T`` is needed.  The rows of ``V`` are
    orthonormalised in order (Gram-Schmidt in coefficient space); a row whose
    part outside the span of the earlier ones is below ``rel_tol`` of its norm
    is dropped (e.g. harmonics that alias to nothing on a small grid).  A
    final symmetric re-orthonormalisation, ``(T G T^T)^-1/2 T``, polishes the
    rounding error, so the rows of ``T @ V`` are orthonormal to ~1e-14.  Both
    steps are continuous in ``G``: the basis is reproducible across machines.
    See :func:`orthonormal_components` for how the work is split.
    """
    return orthonormal_components(gram, rel_tol)[0]


def orthonormal_components(
    gram: np.ndarray, rel_tol: float = 1e-6
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """:func:`orthonormal_coefficients`, worked out on each connected component of ``G``'s nonzero pattern.

    Rows of ``V`` that are exactly orthogonal to all the others of their
    component never mix with them: Gram-Schmidt in order projects nothing
    across components (every product is an exact zero), and the polishing
    ``(T G T^T)^-1/2`` is block diagonal.  So the result is the same as on the
    whole matrix, to rounding, for the sum of the components' cubes instead of
    the whole size's: solutions between permutation representations live on
    one orbit of channel pairs each, and a regular -> regular Gram matrix of
    ``D24``, k=9, falls into 48 components of 33.

    Returns ``T`` (rows in the order of the rows of ``V`` they were kept for,
    as on the whole matrix) and, per component, ``(indices of V's rows, rows of T)``.
    """
    n = gram.shape[0]
    if n == 0:
        return np.zeros((0, 0)), []
    parts = []
    nonzero = gram != 0
    # both triangles: rounding can leave 1e-32 on one side of the diagonal and an exact zero on the other
    for idx in _components(nonzero | nonzero.T):
        sub = gram[np.ix_(idx, idx)]
        coeffs, kept = _gram_schmidt(sub, np.eye(len(idx)), rel_tol**2)
        if coeffs.shape[0]:
            e2, v2 = np.linalg.eigh(coeffs @ sub @ coeffs.T)
            coeffs = ((v2 / np.sqrt(e2)) @ v2.T) @ coeffs
        parts.append((idx, coeffs, idx[kept]))
    # rows in the order of the kept rows of V, as Gram-Schmidt on the whole matrix gives them
    order = np.concatenate([kept for _, _, kept in parts])
    rank = np.empty(len(order), dtype=np.int64)
    rank[np.argsort(order, kind="stable")] = np.arange(len(order))
    out = np.zeros((len(order), n))
    components = []
    start = 0
    for idx, coeffs, _ in parts:
        rows = rank[start : start + len(coeffs)]
        out[np.ix_(rows, idx)] = coeffs
        components.append((idx, rows))
        start += len(coeffs)
    return out, components


def _components(adjacency: np.ndarray) -> list[np.ndarray]:
    """The connected components (sorted index arrays, by first index) of a symmetric boolean adjacency matrix."""
    n = len(adjacency)
    seen = np.zeros(n, dtype=bool)
    out = []
    for first in range(n):
        if seen[first]:
            continue
        members = np.zeros(n, dtype=bool)
        members[first] = True
        frontier = members.copy()
        while frontier.any():
            frontier = adjacency[frontier].any(axis=0) & ~members
            members |= frontier
        seen |= members
        out.append(np.flatnonzero(members))
    return out


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
