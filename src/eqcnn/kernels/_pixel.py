"""The pixel basis: the constraint solved on the k x k grid itself.

Only for groups whose every element maps the square grid onto itself
(Trivial, C2, C4, D1, D2, D4).  Pixels fall into orbits under the group; a
filter is free at one pixel of each orbit, up to the constraint of the
pixel's stabiliser, and determined elsewhere in the orbit by
``K(g p) = rho_out(g) K(p) rho_in(g)^-1``.  This is how GrouPy builds p4 and
p4m convolutions, and for the trivial group it is every pixel free: the
ordinary convolution.
"""

from __future__ import annotations

import numpy as np

from ..groups import GroupElement, Representation
from ._solve import null_space

__all__ = ["pixel_action", "pixel_filters"]


def _image(matrix: np.ndarray, c: float, i: int, j: int) -> tuple[int, int]:
    """The pixel (row, column) that ``(i, j)`` of a grid centred at ``c`` goes to under ``matrix``."""
    x, y = j - c, c - i
    nx, ny = matrix @ np.array([x, y])
    return round(c - ny), round(nx + c)


def pixel_action(g: GroupElement, kernel_size: int) -> np.ndarray:
    """``T`` ``(k*k, k*k)`` with ``psi_s(g^-1 p) = sum_t T[s, t] psi_t(p)`` for the one-hot pixels ``psi``.

    ``psi_s`` moved by ``g`` is the one-hot pixel of ``g``'s image of ``s``.
    """
    k = kernel_size
    c = (k - 1) / 2
    mat = g.matrix()
    out = np.zeros((k * k, k * k))
    for i in range(k):
        for j in range(k):
            pi, pj = _image(mat, c, i, j)
            out[i * k + j, pi * k + pj] = 1.0
    return out


def pixel_filters(rep_in: Representation, rep_out: Representation, kernel_size: int) -> np.ndarray:
    """Orthonormal basis filters, shape ``(n, d_out, d_in, k, k)``.

    For the trivial group with scalar fields this is the identity, pixels in
    row-major order.
    """
    group = rep_in.group
    if group.is_continuous:
        raise ValueError(f"the pixel basis needs a finite group that maps the pixel grid onto itself; {group!r} "
                         "has every rotation: use basis='harmonic'")  # fmt: skip
    if not group.is_grid_symmetric:
        raise ValueError(
            f"the pixel basis needs a group whose elements map the pixel grid onto itself "
            f"(Trivial, C2, C4, D1, D2, D4); {group!r} has rotations by {360 / group.N:g} degrees: "
            f"use basis='harmonic'"
        )
    k = kernel_size
    c = (k - 1) / 2
    d_o, d_i = rep_out.size, rep_in.size
    mats = [g.matrix() for g in group.elements]

    def where(g_idx: int, i: int, j: int) -> tuple[int, int]:
        return _image(mats[g_idx], c, i, j)

    seen = np.zeros((k, k), dtype=bool)
    basis = []
    for i in range(k):
        for j in range(k):
            if seen[i, j]:
                continue
            images = [where(gi, i, j) for gi in range(group.order)]
            stab = [g for gi, g in enumerate(group.elements) if images[gi] == (i, j) and gi != 0]
            constraints = [np.kron(rep_out(h), rep_in(h)) - np.eye(d_o * d_i) for h in stab]
            sols = null_space(constraints, d_o * d_i).reshape(-1, d_o, d_i)
            orbit = set(images)
            for e in sols:
                filt = np.zeros((d_o, d_i, k, k))
                for gi, g in enumerate(group.elements):
                    pi, pj = images[gi]
                    filt[:, :, pi, pj] = rep_out(g) @ e @ rep_in(g).T
                basis.append(filt / np.sqrt(len(orbit)))
            for pi, pj in orbit:
                seen[pi, pj] = True
    if not basis:
        return np.zeros((0, d_o, d_i, k, k))
    return np.stack(basis)
