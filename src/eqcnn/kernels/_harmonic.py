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

from .._checks import check_choice, check_number
from ..groups import GroupElement, Representation
from ._solve import canonical_signs, null_space, null_space_kept, orthonormal_components, sparse_canonical_signs

__all__ = [
    "HarmonicBasis",
    "HarmonicFactors",
    "default_max_frequency",
    "escnn_max_frequency",
    "harmonic_action",
    "harmonic_basis",
    "harmonic_factors",
    "lowpass_max_frequency",
    "ring_profile",
]


def default_max_frequency(radius: float, outer_radius: float) -> int:
    """Band limit of a ring: 0 at the centre, ``2 r`` inside, at most 2 on the outer ring.

    The outer ring is sampled only partly (its corners fall outside the
    square), so it keeps low frequencies only.
    """
    radius, outer_radius = (
        check_number("radius", radius, minimum=0),
        check_number("outer_radius", outer_radius, minimum=0),
    )
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


def _kron(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.kron`` of two matrices, the same products without its generic overhead (45 us a call, most of a
    small basis' solve)."""
    return (a[:, None, :, None] * b[None, :, None, :]).reshape(a.shape[0] * b.shape[0], a.shape[1] * b.shape[1])


@lru_cache(maxsize=1024)
def angular_solutions(rep_in: Representation, rep_out: Representation, m: int) -> np.ndarray:
    """Coefficient tensors ``C`` of shape ``(n, d_out, d_in, 1 or 2)`` solving the constraint at frequency m.

    Orthonormal and cached (layers of different kernel sizes share them).
    """
    if rep_in.is_permutation and rep_out.is_permutation and not rep_in.group.is_continuous:
        return _permutation_solutions(rep_in, rep_out, m)  # (a continuous group's elements are only a sample)
    sols, _ = _solutions_kept(rep_in, rep_out, m)
    return sols


@lru_cache(maxsize=1024)
def _solutions_kept(rep_in: Representation, rep_out: Representation, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The solutions ``(n, d_out, d_in, a)`` of :func:`angular_solutions` by a null space, and the
    coordinates (flat ``(o, i, a)`` indices) they were made from (:func:`null_space_kept`).

    When both representations are known direct sums of irreps (``components``:
    ``bl_regular``, irreps fields, trivial), the constraint is block diagonal
    over the channel pairs of each pair of components, so each pair of irreps
    is solved on its own (cached, a few coordinates each) and the rows are
    put in the order the whole null space would give them: the same basis, to
    rounding, without the eigenproblem of the whole (``bl_regular(3)`` of SO(2),
    98 coordinates at m = 1).
    """
    a = 1 if m == 0 else 2
    d_o, d_i = rep_out.size, rep_in.size
    comps_i, comps_o = rep_in.components, rep_out.components
    if comps_i is not None and comps_o is not None and (len(comps_i) > 1 or len(comps_o) > 1):
        rows, kept = [], []
        so = 0
        for co in comps_o:
            si = 0
            for ci in comps_i:
                sub, sub_kept = _solutions_kept(ci, co, m)
                if len(sub):
                    block = np.zeros((len(sub), d_o, d_i, a))
                    block[:, so : so + co.size, si : si + ci.size] = sub
                    lo, rest = np.divmod(sub_kept, ci.size * a)
                    li, la = np.divmod(rest, a)
                    rows.append(block)
                    kept.append(((so + lo) * d_i + si + li) * a + la)
                si += ci.size
            so += co.size
        if not rows:
            return _no_solutions(d_o, d_i, a)
        order = np.argsort(np.concatenate(kept), kind="stable")
        out, where = np.concatenate(rows)[order], np.concatenate(kept)[order]
    elif (
        rep_in.frequency is not None
        and rep_out.frequency is not None
        and m not in _coupled(rep_in.frequency, rep_out.frequency)
    ):
        return _no_solutions(d_o, d_i, a)
    else:
        dim = d_o * d_i * a
        constraints = []
        for g in rep_in.group.generators:
            lhs = _kron(_kron(rep_out(g), rep_in(g)), np.eye(a))
            rhs = _kron(np.eye(d_o * d_i), harmonic_action(m, g).T)
            constraints.append(lhs - rhs)
        flat, where = null_space_kept(constraints, dim)
        out = flat.reshape(-1, d_o, d_i, a)
    out.setflags(write=False)  # cached and shared
    where.setflags(write=False)
    return out, where


def _coupled(k_i: int, k_o: int) -> tuple[int, int]:
    """The ring harmonics ``m`` that can map irrep ``k_i`` to irrep ``k_o`` of SO(2) or O(2):
    ``|k_o - k_i|`` and ``k_o + k_i`` (the frequencies of ``rho_out (x) rho_in``); at any other ``m``
    the null space is empty, so it is not solved for (33 of the 48 (irreps pair, m) null spaces of a
    5x5 layer between ``SO2(3).bl_regular`` fields)."""
    return (abs(k_o - k_i), k_o + k_i)


def _no_solutions(d_o: int, d_i: int, a: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_solutions_kept`'s answer when nothing solves the constraint (read-only, as it is cached)."""
    out, where = np.zeros((0, d_o, d_i, a)), np.zeros(0, dtype=np.int64)
    out.setflags(write=False)
    where.setflags(write=False)
    return out, where


def _permutation_solutions(rep_in: Representation, rep_out: Representation, m: int) -> np.ndarray:
    """The same solutions, by orbits, when both representations permute channels (trivial, regular).

    Then ``rho_out(g) (x) rho_in(g)`` moves the channel pair ``p = (o, i)`` to
    ``g p``, and the constraint reads ``C[g p] = M_m(g) C[p]``: pick ``C`` at one
    pair of each orbit, fixed by the pair's stabiliser, and carry it along the
    orbit.  No eigenproblem, and the result is orthonormal by construction.
    """
    a = 1 if m == 0 else 2
    actions = np.stack([harmonic_action(m, g) for g in rep_in.group.elements])  # (|G|, a, a)
    out = []
    for images, stab, size in _pair_orbits(rep_in, rep_out):
        fixed = null_space([actions[gi] - np.eye(a) for gi in stab if gi != 0], a)
        if not len(fixed):
            continue
        sols = np.zeros((len(fixed), rep_out.size, rep_in.size, a))
        # pair g p gets M_m(g) c; the elements of the stabiliser write the same value again
        sols[:, images[:, 0], images[:, 1]] = np.einsum("gab,fb->fga", actions, fixed)
        out.append(sols / np.sqrt(size))
    return np.concatenate(out) if out else np.zeros((0, rep_out.size, rep_in.size, a))


@lru_cache(maxsize=1024)
def _pair_orbits(rep_in: Representation, rep_out: Representation) -> list[tuple[np.ndarray, list[int], int]]:
    """The orbits of channel pairs under two permutation representations, in order of their first pair.

    Each as ``(images, stabiliser, size)``: the image ``g p`` of the orbit's
    first pair ``p`` under every element ``g`` (``(|G|, 2)``), the elements
    fixing ``p``, and the number of distinct pairs.
    """
    group = rep_in.group
    perm_o = np.stack([rep_out.matrices[g.index].argmax(axis=0) for g in group.elements])  # rho(g) e_j = e_perm[j]
    perm_i = np.stack([rep_in.matrices[g.index].argmax(axis=0) for g in group.elements])
    seen = np.zeros((rep_out.size, rep_in.size), dtype=bool)
    orbits = []
    for o in range(rep_out.size):
        for i in range(rep_in.size):
            if seen[o, i]:
                continue
            images = np.stack([perm_o[:, o], perm_i[:, i]], axis=1)
            stab = np.flatnonzero((images[:, 0] == o) & (images[:, 1] == i)).tolist()
            seen[images[:, 0], images[:, 1]] = True
            images.setflags(write=False)  # cached and shared
            orbits.append((images, stab, group.order // len(stab)))
    return orbits


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


def escnn_max_frequency(radius: float, outer_radius: float) -> int:
    """escnn's default band limit for ``R2Conv`` (its ``frequencies_cutoff=-1``): 0 at the centre,
    ``min(2 r, 2)`` on the outer ring, ``2 r`` on odd inner rings and ``2 r - 1`` on even ones."""
    if radius == 0:
        return 0
    if radius == outer_radius:
        return math.floor(min(2 * radius, 2))
    return math.floor(min(2 * radius, 2 * radius - (radius + 1) % 2))


#: The ring profiles a harmonic basis can be built on: the rings' radii and widths, and each ring's band
#: limit. ``"eqcnn"`` is the default; ``"escnn"`` is escnn's default for ``R2Conv`` (the same rings, a
#: near-delta at the centre, a lower band limit on odd inner rings), so an escnn filter lies in the span;
#: ``"lowpass"`` is the default rings with every band limit one lower (at least 1) and the outer ring's 1:
#: smoother filters, which change less between the grid's angles (docs/howto/off-grid-angles.md).
PROFILES = ("eqcnn", "escnn", "lowpass")


def lowpass_max_frequency(radius: float, outer_radius: float) -> int:
    """The ``"lowpass"`` profile's band limit: :func:`default_max_frequency` less one (at least 1) on the inner
    rings, 1 on the outer ring, 0 at the centre."""
    top = default_max_frequency(radius, outer_radius)
    if radius == 0:
        return 0
    if radius >= outer_radius:
        return min(1, top)
    return max(1, top - 1)


def ring_profile(kernel_size: int, profile: str = "eqcnn") -> tuple[list[float], list[float], list[int]]:
    """The rings ``(radii, sigmas, band limits)`` of a ``kernel_size`` harmonic basis of ``profile``."""
    check_choice("profile", profile, PROFILES)
    k = kernel_size
    c = (k - 1) / 2
    outer = math.floor(c)
    rings = [float(r) for r in range(outer + 1)] if k % 2 == 1 else [r + 0.5 for r in range(int(c) + 1)]
    sigma = [0.6] * (len(rings) - 1) + [0.4]
    limit = lowpass_max_frequency if profile == "lowpass" else default_max_frequency
    if profile == "escnn":
        if k % 2 == 0:
            raise ValueError(f"the 'escnn' ring profile needs an odd `kernel_size`, got {kernel_size}")
        sigma = [0.005 if r == 0 else s for r, s in zip(rings, sigma)]  # escnn's centre ring is a point
        limit = escnn_max_frequency
    return rings, sigma, [limit(r, rings[-1]) for r in rings]


def harmonic_factors(
    rep_in: Representation, rep_out: Representation, kernel_size: int, profile: str = "eqcnn"
) -> HarmonicFactors:
    """The factored raw filters: every ring, every frequency up to the ring's band limit."""
    k = kernel_size
    c = (k - 1) / 2
    jj, ii = np.meshgrid(np.arange(k), np.arange(k))
    x = jj - c
    y = c - ii
    radius = np.hypot(x, y)
    phi = np.arctan2(y, x)
    at_centre = radius < 1e-9
    rings, sigma, limits = ring_profile(k, profile)
    max_m = max(limits)
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
        for r, s, limit in zip(rings, sigma, limits):
            if limit < m:
                continue
            radial = np.exp(-((radius - r) ** 2) / (2 * s * s))
            blocks.append((coeffs, list(range(len(spatial), len(spatial) + h.shape[0]))))
            spatial.extend(h * radial)
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
_DENSE_MIX = 1 << 23  # multiply-adds up to which the basis is mixed in one product per frequency (measured crossover)


class _Run(NamedTuple):
    """Consecutive blocks of one frequency: they share their angular solutions, ring after ring."""

    solutions: np.ndarray  # (j, d_out, d_in, a)
    first: int  # the first raw function (row of the Gram matrix) of the run
    spatial: np.ndarray  # (rings, a): the spatial functions of each ring's block


def _runs(blocks: list[tuple[np.ndarray, list[int]]], offsets: np.ndarray) -> list[_Run]:
    """The blocks of :func:`harmonic_factors` joined into runs, one per frequency.

    Blocks of one frequency hold the same (cached) solutions array, so a run
    is read off by identity; blocks that held equal copies would make one run
    each, which gives the same result, more slowly.
    """
    runs: list[_Run] = []
    for b, (c, s_idx) in enumerate(blocks):
        if runs and runs[-1].solutions is c:
            runs[-1] = runs[-1]._replace(spatial=np.vstack([runs[-1].spatial, s_idx]))
        else:
            runs.append(_Run(c, int(offsets[b]), np.array([s_idx])))
    return runs


def _raw_gram(runs: list[_Run], n_raw: int, ss: np.ndarray, pairs: int) -> np.ndarray:
    """The Gram matrix of the raw filters, from the Gram matrices of their two factors.

    Filled one pair of runs (frequencies) at a time: the solutions' channel
    inner products ``(j, a) x (k, b)`` once, contracted with the spatial inner
    products ``ss`` of every pair of rings.
    """
    flat = [np.ascontiguousarray(r.solutions.transpose(0, 3, 1, 2).reshape(-1, pairs)) for r in runs]
    gram = np.zeros((n_raw, n_raw))
    for i1, (c1, o1, s1) in enumerate(runs):
        for i2, (c2, o2, s2) in enumerate(runs[: i1 + 1]):
            inner = (flat[i1] @ flat[i2].T).reshape(c1.shape[0], c1.shape[3], c2.shape[0], c2.shape[3])
            spatial = ss[s1[:, :, None, None], s2[None, None, :, :]]  # (rings 1, a, rings 2, b)
            g = np.einsum("jakb,rasb->rjsk", inner, spatial).reshape(len(s1) * c1.shape[0], len(s2) * c2.shape[0])
            gram[o1 : o1 + g.shape[0], o2 : o2 + g.shape[1]] = g
            gram[o2 : o2 + g.shape[1], o1 : o1 + g.shape[0]] = g.T
    return gram


def _mix_by_frequency(
    coeffs: np.ndarray, runs: list[_Run], flat_s: np.ndarray, pairs: int
) -> tuple[np.ndarray, np.ndarray]:
    """The basis' coefficients ``(dim, pairs, n_spatial)`` and signs, with one matrix product per frequency.

    A run's raw function ``(ring r, solution j)`` is ``solutions[j, :, :, a]``
    on spatial function ``spatial[r, a]``, a different one for every
    ``(r, a)``: so the basis filters' coefficients on those spatial functions
    are ``coeffs`` (on the run's raw functions) times the solutions.
    """
    dim, n_sp = len(coeffs), len(flat_s)
    mixed = np.zeros((dim, pairs, n_sp))
    for c, first, s_idx in runs:
        j, a = c.shape[0], c.shape[3]
        x = coeffs[:, first : first + len(s_idx) * j].reshape(dim * len(s_idx), j)
        y = (x @ c.reshape(j, pairs * a)).reshape(dim, len(s_idx), pairs, a)
        mixed[:, :, s_idx.reshape(-1)] = y.transpose(0, 2, 1, 3).reshape(dim, pairs, -1)
    # the sign rule on the sampled filters, from the channel pairs each filter is nonzero on
    row, pair = np.nonzero(np.any(mixed != 0, axis=2))
    signs = sparse_canonical_signs(mixed[row, pair] @ flat_s, row, dim)  # tie-tolerant
    mixed *= signs[:, None, None]
    return mixed, signs


def _mix_by_component(
    coeffs: np.ndarray,
    components: list[tuple[np.ndarray, np.ndarray]],
    blocks: list[tuple[np.ndarray, list[int]]],
    offsets: np.ndarray,
    flat_s: np.ndarray,
    pairs: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_mix_by_frequency` for large groups, one component of the Gram matrix at a time.

    A basis filter mixes the raw functions of one component only (one orbit
    of channel pairs between permutation representations), so each component
    is mixed on its own, from the angular factors cut to their support, in
    chunks of bounded memory: the dense product would take gigabytes.
    """
    dim, n_sp, k2 = len(coeffs), len(flat_s), flat_s.shape[1]
    component_of = np.empty(coeffs.shape[1], dtype=np.int64)
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
    for (_, rows), pieces in zip(components, by_component):
        if not len(rows) or not pieces:
            continue
        support = np.unique(np.concatenate([where for _, where, _, _ in pieces]))
        step = max(1, _CHUNK // max(len(support) * max(n_sp, k2), 1))  # bounded memory for large components
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
    return mixed, signs


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


def harmonic_basis(
    rep_in: Representation, rep_out: Representation, kernel_size: int, profile: str = "eqcnn"
) -> HarmonicBasis:
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
    are never formed).  The orthonormal filters are then mixed from the
    factors in one product per frequency (:func:`_mix_by_frequency`), or, for
    large groups where that would multiply mostly zeros, one component at a
    time (:func:`_mix_by_component`): the same basis, to rounding.
    """
    spatial, blocks, freqs = harmonic_factors(rep_in, rep_out, kernel_size, profile)
    d_o, d_i, k = rep_out.size, rep_in.size, kernel_size
    n_sp = len(spatial)
    if not blocks:
        return HarmonicBasis(np.zeros((0, 0)), np.zeros((0, d_o, d_i, n_sp)), spatial, freqs)
    flat_s = spatial.reshape(n_sp, k * k)
    pairs = d_o * d_i
    offsets = np.concatenate([[0], np.cumsum([c.shape[0] for c, _ in blocks])])
    runs = _runs(blocks, offsets)
    gram = _raw_gram(runs, int(offsets[-1]), flat_s @ flat_s.T, pairs)
    coeffs, components = orthonormal_components(gram)
    dim = coeffs.shape[0]
    if dim * len(gram) * pairs * 2 <= _DENSE_MIX:
        mixed, signs = _mix_by_frequency(coeffs, runs, flat_s, pairs)
        init_mix = (signs[:, None] * coeffs) @ gram
    else:
        mixed, signs = _mix_by_component(coeffs, components, blocks, offsets, flat_s, pairs)
        init_mix = np.zeros((dim, len(gram)))
        for raw, rows in components:  # zero across components, where the Gram matrix is exactly zero
            init_mix[np.ix_(rows, raw)] = (signs[rows, None] * coeffs[np.ix_(rows, raw)]) @ gram[np.ix_(raw, raw)]
    # the raw functions, each normalised, in the coordinates of the orthonormal basis: raw_j = sum_i R[i, j] f_i
    init_mix /= np.sqrt(np.diag(gram))[None, :]
    return HarmonicBasis(init_mix, mixed.reshape(dim, d_o, d_i, n_sp), spatial, freqs)
