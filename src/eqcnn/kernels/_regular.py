"""Filters into a regular field, stored as one row turned by the group.

For a regular output field, channel ``c`` belongs to the group element ``g``
with ``g . e = c``, and the constraint ``K(g p) = rho_out(g) K(p) rho_in(g)^-1``
with permutation representations gives, entry by entry,

    K[c, d](p) = K[e, g^-1 d](g^-1 p).

So a filter is fixed by its first row ``K[e, :]``: the other rows are that row
turned (or mirrored) by ``g`` and with its input channels permuted.  In the
factored form ``filters[j] = coefficients[j] @ spatial`` of a
:class:`~eqcnn.kernels.KernelBasis`, turning the plane is a small linear map
``A_g`` on the spatial functions (a 2x2 rotation per ring and frequency for the
harmonic basis, a pixel permutation for the pixel basis), so

    coefficients[j, c, d] = A_g @ coefficients[j, e, g^-1 d].

Expanding weights this way reads a few small matrices instead of the dense
basis, whose size grows like ``|G|^2 k^2`` times its dimension: it is how
:class:`eqcnn.nn.Conv2d` expands regular -> regular filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._basis import KernelBasis

__all__ = ["RegularFactors", "regular_factors"]


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one cached instance per basis
class RegularFactors:
    """A basis into a regular field, as its first row, the group's action on space and channel permutations.

    With ``N = |G|``, ``S`` spatial functions and ``d_in`` input channels:

    - ``generator`` ``(dim, d_in, S)``: ``coefficients[:, e]``, the first row;
    - ``actions`` ``(N, S, S)``: ``actions[c]`` turns a spatial coefficient
      vector by the element of channel ``c``;
    - ``sources`` ``(N, d_in)`` (integers): row ``c`` reads input channel
      ``sources[c, d]`` of the first row at channel ``d``;
    - ``spatial`` ``(S, k, k)``: the basis' spatial functions.

    ``coefficients[j, c, d] == actions[c] @ generator[j, sources[c, d]]``
    (to rounding: the tests check every basis filter of every group; making
    the factors checks the first 32).  The arrays are read-only: the factors
    are cached and shared.
    """

    generator: np.ndarray
    actions: np.ndarray
    sources: np.ndarray
    spatial: np.ndarray

    def filters(self) -> np.ndarray:
        """The dense basis ``(dim, N, d_in, k, k)`` these factors stand for (for tests and reference)."""
        rows = np.einsum("csz,jcdz->jcds", self.actions, self.generator[:, self.sources])
        return np.einsum("jcds,syx->jcdyx", rows, self.spatial)


def regular_factors(basis: KernelBasis) -> RegularFactors | None:
    """The factored form of ``basis`` if its output field is regular and its input a permuted one, else None.

    Only worth it (and only returned) when the input has more than one channel
    (regular -> regular); for lifting convs the dense basis is already small.

    Example:
        >>> import eqcnn
        >>> from eqcnn.kernels import kernel_basis, regular_factors
        >>> R = eqcnn.Cyclic(8).regular_representation
        >>> f = regular_factors(kernel_basis(R, R, 5))
        >>> f.generator.shape, f.actions.shape  # 88 filters of 8 x 8 x 5 x 5, from an 8 x 11 row
        ((88, 8, 11), (8, 11, 11))
    """
    if not isinstance(basis, KernelBasis):
        raise TypeError(f"`basis` must be a KernelBasis (from kernel_basis(...)), got {type(basis).__name__}")
    return _regular_factors(basis)


@lru_cache(maxsize=512)
def _regular_factors(basis: KernelBasis) -> RegularFactors | None:
    rep_in, rep_out = basis.rep_in, basis.rep_out
    group = rep_in.group
    if (
        group.order == 1
        or group.is_continuous
        or rep_out != group.regular_representation
        or not rep_in.is_permutation
        or rep_in.size < 2
        or basis.dim == 0
    ):
        return None
    coef = basis.coefficients  # (dim, N, d_in, S)
    n_sp = coef.shape[-1]
    perm_o = [rep_out.matrices[g.index].argmax(axis=0) for g in group.elements]  # rho(g) e_j = e_perm[j]
    perm_i = [rep_in.matrices[g.index].argmax(axis=0) for g in group.elements]
    generator = coef[:, 0]
    actions = np.zeros((group.order, n_sp, n_sp))
    sources = np.zeros((group.order, rep_in.size), dtype=np.int64)
    probe = slice(0, min(basis.dim, 32))  # a few basis filters catch a wrong convention (tests check all)
    for g in group.elements:
        c = int(perm_o[g.index][0])
        sources[c] = perm_i[g.inverse().index]
        # coefficient vectors a of K[e, src] become T_g^T a for the turned function K[e, src](g^-1 p)
        actions[c] = basis.spatial_action(g).T
        turned = np.einsum("st,jdt->jds", actions[c], generator[probe][:, sources[c]])
        if np.abs(turned - coef[probe, c]).max() > 1e-9 * max(float(np.abs(coef[probe]).max()), 1e-300):
            return None  # not the structure derived above: keep the dense basis
    actions[np.abs(actions) < 1e-14] = 0.0  # exact zeros at quarter turns (and no float32 subnormals)
    generator = np.ascontiguousarray(generator)
    for a in (generator, actions, sources):
        a.setflags(write=False)
    return RegularFactors(generator, actions, sources, basis.spatial)
