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

import numpy as np

from ..groups import GroupElement, Representation
from ._solve import null_space

__all__ = ["default_max_frequency", "harmonic_filters"]


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


def _harmonic_action(m: int, g: GroupElement) -> np.ndarray:
    """``M`` with ``h_m(g p) = M h_m(p)``."""
    if m == 0:
        return np.ones((1, 1))
    if g.reflection:
        alpha = math.pi + g.angle
        c, s = math.cos(m * alpha), math.sin(m * alpha)
        return np.array([[c, s], [s, -c]])
    c, s = math.cos(m * g.angle), math.sin(m * g.angle)
    return np.array([[c, -s], [s, c]])


def angular_solutions(rep_in: Representation, rep_out: Representation, m: int) -> np.ndarray:
    """Coefficient tensors ``C`` of shape ``(n, d_out, d_in, 1 or 2)`` solving the constraint at frequency m."""
    a = 1 if m == 0 else 2
    d_o, d_i = rep_out.size, rep_in.size
    dim = d_o * d_i * a
    constraints = []
    for g in rep_in.group.generators:
        lhs = np.kron(np.kron(rep_out(g), rep_in(g)), np.eye(a))
        rhs = np.kron(np.eye(d_o * d_i), _harmonic_action(m, g).T)
        constraints.append(lhs - rhs)
    sols = null_space(constraints, dim)
    return sols.reshape(-1, d_o, d_i, a)


def harmonic_filters(rep_in: Representation, rep_out: Representation, kernel_size: int) -> np.ndarray:
    """All (not yet orthonormal) sampled basis filters, shape ``(n, d_out, d_in, k, k)``."""
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
    out = []
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
            out.append(np.einsum("noia,ayx->noiyx", coeffs, h * profile))
    if not out:
        return np.zeros((0, rep_out.size, rep_in.size, k, k))
    return np.concatenate(out, axis=0)
