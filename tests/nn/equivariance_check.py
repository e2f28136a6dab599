"""Equivariance checks for the layer tests (until eqcnn.testing.assert_equivariant lands).

``check_equivariant(layer, x)`` compares ``layer(in_type.transform(x, g))`` with
``out_type.transform(layer(x), g)`` for every element ``g`` of the group that
maps the pixel grid onto itself (of the output's group, for a restriction), and fails above float32 relative error 1e-5.
"""

from __future__ import annotations

import torch

import eqcnn

RTOL = {torch.float32: 1e-5, torch.float64: 1e-10}

GROUPS = [eqcnn.Trivial(), eqcnn.Cyclic(4), eqcnn.Dihedral(4), eqcnn.Cyclic(8)]
GROUP_IDS = [repr(g) for g in GROUPS]


def grid_elements(group: eqcnn.PointGroup) -> list[eqcnn.GroupElement]:
    return [g for g in group.elements if g.is_grid_symmetry]


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = max(a.abs().max().item(), b.abs().max().item(), 1e-30)
    return (a - b).abs().max().item() / scale


def check_equivariant(layer, x: torch.Tensor, seed: int | None = None) -> float:
    """Return the worst relative error over the grid symmetries; raise if above the tolerance."""
    in_type, out_type = layer.in_type, layer.out_type
    worst = 0.0
    group = in_type.group if out_type is None else out_type.group  # a restriction's: the subgroup
    for g in grid_elements(group):
        if seed is not None:
            torch.manual_seed(seed)
        y = layer(x)
        rhs = y if out_type is None else out_type.transform(y, g)
        if seed is not None:
            torch.manual_seed(seed)
        lhs = layer(in_type.transform(x, in_type.group.embed(g)))
        assert lhs.shape == rhs.shape, (g, lhs.shape, rhs.shape)
        err = relative_error(lhs, rhs)
        worst = max(worst, err)
        assert err < RTOL[x.dtype], f"{type(layer).__name__} not equivariant under {g!r}: relative error {err:.2e}"
    return worst
