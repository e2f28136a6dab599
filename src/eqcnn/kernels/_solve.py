"""Linear algebra shared by the kernel bases: null spaces and orthonormalisation."""

from __future__ import annotations

import numpy as np

__all__ = ["canonical_signs", "null_space", "null_space_kept", "orthonormal_coefficients", "orthonormal_components"]


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
    return null_space_kept(constraints, dim)[0]


def null_space_kept(constraints: list[np.ndarray], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`null_space` and, for each of its rows, the standard basis vector it was made from.

    Those indices say where a row falls in the canonical order.  When the
    constraints are block diagonal over disjoint sets of coordinates, the null
    space of the whole is the rows of each block's null space, sorted by that
    index: the projector is block diagonal, so Gram-Schmidt in order never
    mixes two blocks (see :func:`eqcnn.kernels._harmonic.angular_solutions`).
    """
    if not constraints:
        return np.eye(dim), np.arange(dim)
    gram = sum(a.T @ a for a in constraints)
    if not np.any(np.abs(gram) > 1e-12):
        return np.eye(dim), np.arange(dim)
    evals, evecs = np.linalg.eigh(gram)
    # the constraints are differences of orthogonal matrices: nonzero eigenvalues are O(1)
    tol = 1e-8 * max(1.0, float(evals[-1]))
    v = evecs[:, evals < tol]
    if v.shape[1] == 0:
        return np.zeros((0, dim)), np.zeros(0, dtype=np.int64)
    projector = v @ v.T
    projector[np.abs(projector) < 1e-14] = 0.0
    if dim <= 16:
        return _gram_schmidt_small(projector, 1e-8)
    return _gram_schmidt(np.eye(dim), projector, 1e-8)


def _gram_schmidt_small(candidates: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_gram_schmidt` with the Euclidean inner product (``G = I``), for a few short candidates: the
    same steps (each residual projected twice, the same drop test) without the bookkeeping of ``G r`` and
    the blocks, which cost most of a small null space's time (an irreps pair of SO(2): 4 or 8 unknowns)."""
    n = candidates.shape[1]
    rows: list[np.ndarray] = []
    kept: list[int] = []
    for b, r in enumerate(candidates):
        own = float(r @ r)
        if own <= 0:
            continue
        if rows:
            q = np.array(rows)
            for _ in range(2):
                r = r - (q @ r) @ q
        norm2 = float(r @ r)
        if norm2 > tol * own:
            rows.append(r / np.sqrt(norm2))
            kept.append(b)
            if len(rows) == n:
                break
    if not rows:
        return np.zeros((0, n)), np.zeros(0, dtype=np.int64)
    return np.array(rows), np.array(kept, dtype=np.int64)


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
    nonzero = gram != 0
    # both triangles: rounding can leave 1e-32 on one side of the diagonal and an exact zero on the other
    comps = _components(nonzero | nonzero.T)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(comps)  # (idx, T, kept)
    by_size: dict[int, list[int]] = {}
    for c, idx in enumerate(comps):
        by_size.setdefault(len(idx), []).append(c)
    for members in by_size.values():  # components of one size are solved together (a permutation basis: all)
        at = np.stack([comps[c] for c in members])
        subs = gram[at[:, :, None], at[:, None, :]]
        tri, ok = _by_cholesky(subs, rel_tol)
        good = np.flatnonzero(ok)
        for i, coeffs in zip(good, _polish(tri[good], subs[good])):
            parts[members[i]] = (at[i], coeffs, at[i])
        for i in np.flatnonzero(~ok):
            coeffs, kept = _gram_schmidt(subs[i], np.eye(len(at[i])), rel_tol**2)
            parts[members[i]] = (at[i], _polish(coeffs, subs[i]), at[i][kept])
    # rows in the order of the kept rows of V, as Gram-Schmidt on the whole matrix gives them
    done = [p for p in parts if p is not None]
    order = np.concatenate([kept for _, _, kept in done])
    rank = np.empty(len(order), dtype=np.int64)
    rank[np.argsort(order, kind="stable")] = np.arange(len(order))
    out = np.zeros((len(order), n))
    components = []
    start = 0
    for idx, coeffs, _ in done:
        rows = rank[start : start + len(coeffs)]
        out[np.ix_(rows, idx)] = coeffs
        components.append((idx, rows))
        start += len(coeffs)
    return out, components


_CHOLESKY_MAX_CONDITION = 1e4  # of a unit-diagonal Gram matrix, for its triangular inverse to be used


def _by_cholesky(grams: np.ndarray, rel_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Gram-Schmidt in order of well-conditioned vectors, as ``L^-1`` for ``G = L L^T``, for a stack of Gram matrices.

    In exact arithmetic Gram-Schmidt in order gives the lower-triangular
    ``T`` with a positive diagonal and ``T G T^T = I``: ``L^-1``, where
    ``L_ii^2`` is the squared residual of vector ``i``.  A few LAPACK calls
    instead of a Python loop over the vectors (most of a small group's basis
    time).  Rounding separates the two by about ``cond(G)`` times the machine
    epsilon, so the inverse is used only where the Gram matrix scaled to a
    unit diagonal has a condition number below ``_CHOLESKY_MAX_CONDITION``
    and no vector would be dropped (every residual above ``rel_tol**2``).  The
    components of the harmonic bases stay below 10 (every pair of trivial,
    regular and irreducible representations of C1-C16 and D1-D12, k 1-9), so
    they all take this path; the fallback is for other Gram matrices.
    Returns the ``(n, s, s)`` inverses and which of them to use; the others
    (``False``) are left to :func:`_gram_schmidt`, which drops the vectors
    that alias to nothing.
    """
    diag = np.diagonal(grams, axis1=-2, axis2=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 1.0 / np.sqrt(diag)
        unit = grams * scale[..., :, None] * scale[..., None, :]
        ok = np.all(np.isfinite(unit), axis=(-2, -1))
    tri = np.zeros_like(grams)
    if not ok.any():
        return tri, ok
    eig = np.linalg.eigvalsh(unit[ok])
    ok[ok] = eig[:, 0] * _CHOLESKY_MAX_CONDITION > eig[:, -1]
    if ok.any():
        low = np.linalg.cholesky(grams[ok])  # positive definite, by far
        residual = np.diagonal(low, axis1=-2, axis2=-1) ** 2
        kept = np.all(residual > rel_tol**2 * diag[ok], axis=-1)
        tri[ok] = np.tril(np.linalg.inv(low))
        ok[ok] = kept
    return tri, ok


def _polish(coeffs: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """``(T G T^T)^-1/2 T``: rows ``T`` orthonormal to rounding under ``G`` (also for stacks of them)."""
    if coeffs.size == 0:
        return coeffs
    e2, v2 = np.linalg.eigh(coeffs @ gram @ np.swapaxes(coeffs, -1, -2))
    return ((v2 / np.sqrt(e2)[..., None, :]) @ np.swapaxes(v2, -1, -2)) @ coeffs


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


def sparse_canonical_signs(values: np.ndarray, row_of: np.ndarray, n_rows: int, rel_tol: float = 1e-9) -> np.ndarray:
    """:func:`canonical_signs` of the rows of a matrix given by its nonzero parts.

    Row ``r`` of the matrix is ``values[row_of == r]`` laid end to end, in
    order, with zeros in between (``row_of`` is sorted); rows with no part
    are zero.  Zeros never decide a sign unless the whole row is zero, so
    this equals :func:`canonical_signs` on the whole matrix, at the cost of
    its nonzero parts only: a basis filter between regular representations
    has nonzero channels on 1/|G| of them.
    """
    signs = np.ones(n_rows)
    if not len(values):
        return signs
    if np.any(row_of[1:] < row_of[:-1]):
        raise ValueError("`row_of` must be sorted (each row's parts together, in order)")
    mags = np.abs(values)
    starts = np.flatnonzero(np.r_[True, row_of[1:] != row_of[:-1]])
    top = np.maximum.reduceat(mags.max(axis=1), starts)
    tied = np.flatnonzero(mags >= np.repeat(top, np.diff(np.r_[starts, len(row_of)]))[:, None] * (1.0 - rel_tol))
    rows, first = np.unique(row_of[tied // values.shape[1]], return_index=True)  # tied is in row order
    chosen = np.sign(values.reshape(-1)[tied[first]])
    chosen[chosen == 0] = 1.0
    signs[rows] = chosen
    return signs
