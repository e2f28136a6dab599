"""The voxel basis: the kernel constraint solved on the k x k x k grid, orbit by orbit (exact for O and O_h).

Every element of ``Octahedral()`` and ``FullOctahedral()`` maps the voxel grid
onto itself, so the constraint ``K(g p) = rho_out(g) K(p) rho_in(g)^-1`` ties
together the values of a filter on each orbit of voxels: a filter is free at
one voxel of each orbit, up to the constraint of that voxel's stabiliser, and
determined elsewhere on the orbit.  This is the 3-D form of
:mod:`eqcnn.kernels._pixel` (GrouPy's p4 and p4m convolutions), and the
filters are exact: no sampling, no interpolation.

Into a regular field the constraint leaves the first output row free: with
``rho_in(g) e_d = e_{pi_g(d)}`` a permutation representation,
``K[h, d](q) = K[e, pi_{h^-1}(d)](h^-1 q)`` for every element ``h`` (channel
``h`` of the regular field), so the whole filter is one free row
``(d_in, k, k, k)`` gathered into place (:func:`induced_index`).  That is how
:class:`eqcnn.nn.Conv3d` builds regular -> regular filters, with no dense basis
(one for ``FullOctahedral()`` at k = 5 would hold 6,000 filters of
48 x 48 x 125 numbers).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..groups import GroupElement, Representation
from ._solve import null_space

__all__ = ["induced_index", "voxel_action", "voxel_filters", "voxel_images"]


def _coords(k: int) -> np.ndarray:
    """Centred ``(depth, height, width)`` coordinates of the ``k**3`` voxels, in row-major order."""
    c = (k - 1) / 2
    d, h, w = np.meshgrid(np.arange(k) - c, np.arange(k) - c, np.arange(k) - c, indexing="ij")
    return np.stack([d.reshape(-1), h.reshape(-1), w.reshape(-1)], axis=1)


@lru_cache(maxsize=64)
def voxel_images(group, k: int) -> np.ndarray:
    """``images[g, s]``: the voxel that voxel ``s`` of a ``k**3`` grid goes to under element ``g`` (an int array)."""
    if group.spatial_dims != 3:
        raise ValueError(f"voxel grids are moved by the groups of space (Octahedral, FullOctahedral), got {group!r}")
    pts = _coords(k)
    c = (k - 1) / 2
    out = np.zeros((group.order, k**3), dtype=np.int64)
    for g in group.elements:
        q = np.rint(pts @ g.matrix().T + c).astype(np.int64)  # (g p) for each point p, as grid indices
        out[g.index] = (q[:, 0] * k + q[:, 1]) * k + q[:, 2]
    out.setflags(write=False)
    return out


def voxel_action(g: GroupElement, kernel_size: int) -> np.ndarray:
    """``T`` ``(k**3, k**3)`` with ``psi_s(g^-1 p) = sum_t T[s, t] psi_t(p)`` for the one-hot voxels ``psi``."""
    img = voxel_images(g.group, kernel_size)[g.index]
    out = np.zeros((kernel_size**3,) * 2)
    out[np.arange(kernel_size**3), img] = 1.0
    return out


def _permutations(rep: Representation) -> np.ndarray:
    """``perm[g, j]``: ``rho(g) e_j = e_perm[g, j]`` for a permutation representation."""
    return np.stack([m.argmax(axis=0) for m in rep.matrices])


def _stabiliser_solutions(rep_in: Representation, rep_out: Representation, stab: list[int]) -> np.ndarray:
    """Orthonormal ``(n, d_out, d_in)`` matrices ``E`` with ``rho_out(h) E rho_in(h)^T = E`` for ``h`` in ``stab``."""
    d_o, d_i = rep_out.size, rep_in.size
    if rep_in.is_permutation and rep_out.is_permutation:
        # the fixed matrices of a group permuting (out, in) channel pairs: the indicators of the pair orbits
        po, pi = _permutations(rep_out), _permutations(rep_in)
        label = -np.ones((d_o, d_i), dtype=np.int64)
        n = 0
        for a in range(d_o):
            for b in range(d_i):
                if label[a, b] >= 0:
                    continue
                label[po[stab, a], pi[stab, b]] = n
                n += 1
        sols = np.zeros((n, d_o, d_i))
        sols[label.reshape(-1), np.repeat(np.arange(d_o), d_i), np.tile(np.arange(d_i), d_o)] = 1.0
        return sols / np.sqrt(sols.sum(axis=(1, 2)))[:, None, None]
    group = rep_in.group
    constraints = [
        np.kron(rep_out(group.elements[h]), rep_in(group.elements[h])) - np.eye(d_o * d_i) for h in stab if h != 0
    ]
    return null_space(constraints, d_o * d_i).reshape(-1, d_o, d_i)


def voxel_filters(rep_in: Representation, rep_out: Representation, kernel_size: int) -> np.ndarray:
    """Orthonormal basis filters ``(n, d_out, d_in, k, k, k)`` solving the constraint orbit by orbit."""
    group = rep_in.group
    if group.spatial_dims != 3:
        raise ValueError(f"the voxel basis is for the groups of space (Octahedral, FullOctahedral), got {group!r}")
    k = kernel_size
    if k % 2 == 0:
        raise ValueError(f"`kernel_size` must be odd for {group!r} (an even filter's centre moves), got {k}")
    images = voxel_images(group, k)
    d_o, d_i = rep_out.size, rep_in.size
    mats_o = [rep_out.matrices[g] for g in range(group.order)]
    mats_i = [rep_in.matrices[g] for g in range(group.order)]
    seen = np.zeros(k**3, dtype=bool)
    basis = []
    for s in range(k**3):
        if seen[s]:
            continue
        orbit_of = images[:, s]
        stab = [int(g) for g in np.flatnonzero(orbit_of == s)]
        orbit = np.unique(orbit_of)
        # one element per voxel of the orbit (the first in order that reaches it)
        first = {int(v): int(np.flatnonzero(orbit_of == v)[0]) for v in orbit}
        for e in _stabiliser_solutions(rep_in, rep_out, stab):
            filt = np.zeros((d_o, d_i, k**3))
            for v, g in first.items():
                filt[:, :, v] = mats_o[g] @ e @ mats_i[g].T
            basis.append(filt / np.sqrt(len(orbit)))
        seen[orbit] = True
    if not basis:
        return np.zeros((0, d_o, d_i, k, k, k))
    return np.stack(basis).reshape(-1, d_o, d_i, k, k, k)


@lru_cache(maxsize=128)
def induced_index(rep_in: Representation, kernel_size: int) -> np.ndarray:
    """Where each entry of a filter into a regular field is read from its free first row.

    ``index[h, d, q]`` (shape ``(order, d_in, k**3)``) is the position, in the
    row ``R`` flattened as ``(d_in, k**3)``, of the entry ``K[h, d](q)`` of the
    filter: ``K[h, d](q) = R[pi_{h^-1}(d)](h^-1 q)`` (see the module
    documentation).  ``rep_in`` must be a permutation representation.
    """
    group = rep_in.group
    if not rep_in.is_permutation:
        raise ValueError(f"`rep_in` must be a permutation representation, got {rep_in!r}")
    k3 = kernel_size**3
    images = voxel_images(group, kernel_size)
    perm = _permutations(rep_in)
    out = np.zeros((group.order, rep_in.size, k3), dtype=np.int64)
    for h in group.elements:
        h_inv = h.inverse().index
        out[h.index] = perm[h_inv][:, None] * k3 + images[h_inv][None, :]
    out.setflags(write=False)
    return out
