"""The steerable harmonic basis: radial rings times angular harmonics.

A filter ``K : R^2 -> R^(d_out x d_in)`` is written as

    K(p) = sum_{ring r, frequency m, a} C[r, m][:, :, a] h_{m,a}(phi) G_r(|p|)

with ``h_m = (cos m phi, sin m phi)`` (just ``1`` for ``m = 0``) and Gaussian
ring profiles ``G_r``.  Turning or mirroring the plane maps ``h_m`` to
``M_m(g) h_m`` with a known 2x2 matrix, so the constraint

    K(g p) = rho_out(g) K(p) rho_in(g)^-1

becomes, for each frequency separately, the linear system
``(rho_out(g) (x) rho_in(g) (x) I) C = (I (x) I (x) M_m(g)^T) C`` on the
generators ``g`` of the group: small, exact and solved once.  The solutions are
sampled on the ``k x k`` grid and orthonormalised.

Each ring carries frequencies up to a band limit that grows with its radius, so
the sampled filters do not alias; this is what keeps rotations that do not map
the grid onto itself (45 degrees in C8) close to equivariant.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..groups import GroupElement, Representation
from ._solve import canonical_signs, null_space, orthonormal_components

__all__ = [
    "HarmonicBasis",
    "HarmonicFactors",
    "default_max_frequency",
    "harmonic_action",
    "harmonic_basis",
    "harmonic_factors",
]


def default_max_frequency(radius: float, outer_radius: float) -> int:
    """Band limit of a ring: 0 at the centre, ``2 r`` inside, at most 2 on the outer ring.

    The outer ring is sampled only partly (its corners fall outside the
    square), so it keeps low frequencies only.
    """
    if radius == 0:
        return 0
    if radius >= outer_radius:
        return min(2, math.floor(2 * radius))
    return math.floor(2 * radius)


def harmonic_action(m: int, g: GroupElement) -> np.ndarray:
    """``M`` with ``h_m(g p) = M h_m(p)``."""
    if m == 0:
        return np.ones((1, 1))
    if g.reflection:
        alpha = math.pi + g.angle
        c, s = math.cos(m * alpha), math.sin(m * alpha)
        return np.array([[c, s], [s, -c]])
    c, s = math.cos(m * g.angle), math.sin(m * g.angle)
    return np.array([[c, -s], [s, c]])


@lru_cache(maxsize=1024)
def angular_solutions(rep_in: Representation, rep_out: Representation, m: int) -> np.ndarray:
    """Coefficient tensors ``C`` of shape ``(n, d_out, d_in, 1 or 2)`` solving the constraint at frequency m.

    Orthonormal and cached (layers of different kernel sizes share them).
    """
    if rep_in.is_permutation and rep_out.is_permutation:
        return _permutation_solutions(rep_in, rep_out, m)
    a = 1 if m == 0 else 2
    d_o, d_i = rep_out.size, rep_in.size
    dim = d_o * d_i * a
    constraints = []
    for g in rep_in.group.generators:
        lhs = np.kron(np.kron(rep_out(g), rep_in(g)), np.eye(a))
        rhs = np.kron(np.eye(d_o * d_i), harmonic_action(m, g).T)
        constraints.append(lhs - rhs)
    sols = null_space(constraints, dim)
    return sols.reshape(-1, d_o, d_i, a)


def _permutation_solutions(rep_in: Representation, rep_out: Representation, m: int) -> np.ndarray:
    """The same solutions, by orbits, when both representations permute channels (trivial, regular).

    Then ``rho_out(g) (x) rho_in(g)`` moves the channel pair ``p = (o, i)`` to
    ``g p``, and the constraint reads ``C[g p] = M_m(g) C[p]``: pick ``C`` at one
    pair of each orbit, fixed by the pair's stabiliser, and carry it along the
    orbit.  No eigenproblem, and the result is orthonormal by construction.
    """
    group = rep_in.group
    a = 1 if m == 0 else 2
    d_o, d_i = rep_out.size, rep_in.size
    perm_o = [rep_out.matrices[g.index].argmax(axis=0) for g in group.elements]  # rho(g) e_j = e_perm[j]
    perm_i = [rep_in.matrices[g.index].argmax(axis=0) for g in group.elements]
    actions = [harmonic_action(m, g) for g in group.elements]
    seen = np.zeros((d_o, d_i), dtype=bool)
    out = []
    for o in range(d_o):
        for i in range(d_i):
            if seen[o, i]:
                continue
            images = [(int(perm_o[gi][o]), int(perm_i[gi][i])) for gi in range(group.order)]
            stab = [gi for gi, q in enumerate(images) if q == (o, i)]
            fixed = null_space([actions[gi] - np.eye(a) for gi in stab if gi != 0], a)
            orbit = set(images)
            for c in fixed:
                sol = np.zeros((d_o, d_i, a))
                for gi, (qo, qi) in enumerate(images):
                    sol[qo, qi] = actions[gi] @ c
                out.append(sol / np.sqrt(len(orbit)))
            for qo, qi in orbit:
                seen[qo, qi] = True
    return np.array(out).reshape(-1, d_o, d_i, a)


class HarmonicFactors(NamedTuple):
    """The raw (not yet orthonormal) harmonic filters, kept factored.

    Raw filter ``j`` of block ``b`` is ``sum_a blocks[b].coeffs[j, :, :, a] * spatial[blocks[b].spatial[a]]``:
    an angular solution (channels x harmonic components) times sampled ring
    functions.  Keeping the two factors apart makes the Gram matrix and the
    orthonormal basis cheap to compute (no GEMM over the full filter size).
    """

    spatial: np.ndarray  # (n_spatial, k, k): ring profile x cos / sin, sampled
    blocks: list[tuple[np.ndarray, list[int]]]  # (coeffs (n, d_out, d_in, a), spatial indices (a,))
    frequencies: np.ndarray  # (n_spatial,): the angular frequency m of each spatial function


def harmonic_factors(rep_in: Representation, rep_out: Representation, kernel_size: int) -> HarmonicFactors:
    """The factored raw filters: every ring, every frequency up to the ring's band limit."""
    k = kernel_size
    c = (k - 1) / 2
    jj, ii = np.meshgrid(np.arange(k), np.arange(k))
    x = jj - c
    y = c - ii
    radius = np.hypot(x, y)
    phi = np.arctan2(y, x)
    at_centre = radius < 1e-9
    outer = math.floor(c)
    rings = [float(r) for r in range(outer + 1)] if k % 2 == 1 else [r + 0.5 for r in range(int(c) + 1)]
    outer_r = rings[-1]
    sigma = [0.6] * (len(rings) - 1) + [0.4]
    max_m = max(default_max_frequency(r, outer_r) for r in rings)
    spatial: list[np.ndarray] = []
    frequencies: list[int] = []
    blocks: list[tuple[np.ndarray, list[int]]] = []
    for m in range(max_m + 1):
        coeffs = angular_solutions(rep_in, rep_out, m)
        if coeffs.shape[0] == 0:
            continue
        if m == 0:
            h = np.ones((1, k, k))
        else:
            h = np.stack([np.cos(m * phi), np.sin(m * phi)])
            h[:, at_centre] = 0.0  # the angle is undefined at the centre
        for r, s in zip(rings, sigma):
            if default_max_frequency(r, outer_r) < m:
                continue
            profile = np.exp(-((radius - r) ** 2) / (2 * s * s))
            blocks.append((coeffs, list(range(len(spatial), len(spatial) + h.shape[0]))))
            spatial.extend(h * profile)
            frequencies.extend([m] * h.shape[0])
    return HarmonicFactors(np.array(spatial).reshape(-1, k, k), blocks, np.array(frequencies, dtype=np.int64))


class HarmonicBasis(NamedTuple):
    """The orthonormal harmonic basis, kept factored: ``filters[j] = coefficients[j] @ spatial``.

    (Contracting the last axis of ``coefficients`` with the first of
    ``spatial``.)  The dense filters are not formed here: for large groups
    they take gigabytes, and the layers expand regular -> regular filters from
    the factors; :class:`~eqcnn.kernels.KernelBasis` makes them on first use.
    """

    init_mix: np.ndarray  # (dim, n_raw)
    coefficients: np.ndarray  # (dim, d_out, d_in, n_spatial)
    spatial: np.ndarray  # (n_spatial, k, k)
    frequencies: np.ndarray  # (n_spatial,): m of each spatial function ((cos, sin) pairs for m > 0)


_CHUNK = 1 << 23  # float64 coefficients per chunk of filters (64 MB) while the basis is made


def _pieces(
    blocks: list[tuple[np.ndarray, list[int]]], offsets: np.ndarray, pairs: int
) -> list[tuple[np.ndarray, np.ndarray, list[int], np.ndarray]]:
    """The angular factors cut to their support: ``(raw columns, channel pairs, spatial indices, values)``.

    A solution between permutation representations lives on one orbit of
    channel pairs (1/|G| of them for regular -> regular), so solutions are
    grouped by their nonzero pairs and mixed with dense products on those
    alone: ``values`` is ``(len(columns), len(pairs) * a)``.
    """
    pieces = []
    for b, (c, s_idx) in enumerate(blocks):
        flat = c.reshape(c.shape[0], pairs, -1)
        support = np.any(flat != 0, axis=2)
        groups: dict[bytes, list[int]] = {}
        for r in range(flat.shape[0]):
            groups.setdefault(support[r].tobytes(), []).append(r)
        for rows in groups.values():
            where = np.flatnonzero(support[rows[0]])
            values = flat[rows][:, where].reshape(len(rows), -1)
            pieces.append((offsets[b] + np.array(rows), where, s_idx, values))
    return pieces


def harmonic_basis(rep_in: Representation, rep_out: Representation, kernel_size: int) -> HarmonicBasis:
    """The orthonormal harmonic basis of ``(dim, d_out, d_in, k, k)`` filters, factored, and its initialisation mix.

    The mix ``(dim, n_raw)`` holds each raw (ring, frequency, solution)
    function, normalised on its own, in the coordinates of the basis; see
    :attr:`KernelBasis.init_mix`.  The factors are the basis' coefficients on
    the sampled ring x harmonic functions and those functions.

    The Gram matrix of the raw filters is assembled from the small Gram
    matrices of the two factors and orthonormalised one connected component
    at a time (:func:`orthonormal_components`); each filter's sign is fixed by
    :func:`canonical_signs` on its samples.  Between permutation
    representations a component is one orbit of channel pairs, so a
    regular -> regular basis costs |G| small problems, not one of |G| times
    the size (``D16``, k=9: 0.6 s instead of 5.9 s; the dense filters, 0.7 GB,
    are never formed).
    """
    spatial, blocks, freqs = harmonic_factors(rep_in, rep_out, kernel_size)
    d_o, d_i, k = rep_out.size, rep_in.size, kernel_size
    n_sp = len(spatial)
    if not blocks:
        return HarmonicBasis(np.zeros((0, 0)), np.zeros((0, d_o, d_i, n_sp)), spatial, freqs)
    flat_s = spatial.reshape(n_sp, k * k)
    ss = flat_s @ flat_s.T
    sizes = [c.shape[0] for c, _ in blocks]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    gram = np.zeros((offsets[-1], offsets[-1]))
    # channel inner products of the angular factors, once per pair of factors (blocks of the same
    # frequency share theirs): (j, a) x (k, b) for factor shapes (j, d_o, d_i, a) and (k, d_o, d_i, b)
    flat_c = {id(c): np.ascontiguousarray(c.transpose(0, 3, 1, 2).reshape(-1, d_o * d_i)) for c, _ in blocks}
    inner: dict[tuple[int, int], np.ndarray] = {}
    for b1, (c1, s1) in enumerate(blocks):
        for b2, (c2, s2) in enumerate(blocks[: b1 + 1]):
            key = (id(c1), id(c2))
            if key not in inner:
                inner[key] = (flat_c[id(c1)] @ flat_c[id(c2)].T).reshape(c1.shape[0], c1.shape[3], c2.shape[0], -1)
            g = np.einsum("jakb,ab->jk", inner[key], ss[np.ix_(s1, s2)])
            gram[offsets[b1] : offsets[b1 + 1], offsets[b2] : offsets[b2 + 1]] = g
            gram[offsets[b2] : offsets[b2 + 1], offsets[b1] : offsets[b1 + 1]] = g.T
    coeffs, components = orthonormal_components(gram)
    dim, pairs = coeffs.shape[0], d_o * d_i
    # coefficients[j] = sum_b coeffs[j, b] (C_b (x) S_b). A basis filter mixes the raw functions of one
    # component of the Gram matrix only (one orbit of channel pairs between permutation representations),
    # so each component is mixed on its own, from the angular factors cut to their support
    component_of = np.empty(len(gram), dtype=np.int64)
    for c, (raw, _) in enumerate(components):
        component_of[raw] = c
    by_component: list[list[tuple[np.ndarray, np.ndarray, list[int], np.ndarray]]] = [[] for _ in components]
    for cols, where, s_idx, values in _pieces(blocks, offsets, pairs):
        labels = component_of[cols]
        for c in np.unique(labels):
            inside = labels == c
            by_component[c].append((cols[inside], where, s_idx, values[inside]))
    mixed = np.zeros((dim, pairs, n_sp))
    signs = np.ones(dim)
    init_mix = np.zeros((dim, len(gram)))
    scale = 1.0 / np.sqrt(np.diag(gram))
    for (raw, rows), pieces in zip(components, by_component):
        if not len(rows) or not pieces:
            continue
        support = np.unique(np.concatenate([where for _, where, _, _ in pieces]))
        step = max(1, _CHUNK // max(len(support) * max(n_sp, k * k), 1))  # bounded memory for large components
        for r in range(0, len(rows), step):
            part_rows = rows[r : r + step]
            local = np.zeros((len(part_rows), len(support), n_sp))
            for cols, where, s_idx, values in pieces:
                part = (coeffs[np.ix_(part_rows, cols)] @ values).reshape(len(part_rows), len(where), len(s_idx))
                at = np.searchsorted(support, where)
                for a, s in enumerate(s_idx):
                    local[:, at, s] += part[:, :, a]
            # the sign rule on the sampled filters: the pairs outside the support hold exact zeros
            samples = local.reshape(-1, n_sp) @ flat_s
            signs[part_rows] = canonical_signs(samples.reshape(len(part_rows), -1))  # tie-tolerant
            local *= signs[part_rows, None, None]
            mixed[part_rows[:, None], support[None, :]] = local
        # the raw functions, each normalised, in the coordinates of the orthonormal basis: raw_j = sum_i R[i, j] f_i
        init_mix[np.ix_(rows, raw)] = (signs[rows, None] * coeffs[np.ix_(rows, raw)]) @ gram[np.ix_(raw, raw)]
        init_mix[np.ix_(rows, raw)] *= scale[raw]
    return HarmonicBasis(init_mix, mixed.reshape(dim, d_o, d_i, n_sp), spatial, freqs)
