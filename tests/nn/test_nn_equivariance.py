"""Every layer of the zoo is exactly equivariant for the grid symmetries of Trivial, C4, D4 and C8."""

from __future__ import annotations

import pytest
import torch
from equivariance_check import GROUPS, check_equivariant
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_zoo import LAYER_ZOO, ODD_SIZES_ONLY, RANDOM_IN_TRAINING

import eqcnn
from eqcnn import nn as enn

# odd sizes for every group; even sizes for D4 (which contains C4's rotations)
GROUP_SIZES = [(g, 9) for g in GROUPS] + [(eqcnn.Dihedral(4), 10)]


@pytest.mark.parametrize(("group", "size"), GROUP_SIZES, ids=[f"{g!r}-{s}" for g, s in GROUP_SIZES])
@pytest.mark.parametrize(("name", "factory"), LAYER_ZOO, ids=[n for n, _ in LAYER_ZOO])
def test_layer_is_equivariant(name, factory, group, size):
    if size % 2 == 0 and name in ODD_SIZES_ONLY:
        pytest.skip("stride 2 is exact on odd sizes only (tested in test_nn_exactness)")
    torch.manual_seed(0)
    layer = factory(group)
    x = torch.randn(2, layer.in_type.size, size, size)
    seed = 1 if name in RANDOM_IN_TRAINING else None
    check_equivariant(layer, x, seed=seed)


@pytest.mark.parametrize(("name", "factory"), LAYER_ZOO, ids=[n for n, _ in LAYER_ZOO])
def test_layer_is_equivariant_in_float64(name, factory):
    torch.manual_seed(0)
    layer = factory(eqcnn.Dihedral(4)).double()
    x = torch.randn(2, layer.in_type.size, 9, 9, dtype=torch.float64)
    check_equivariant(layer, x, seed=1 if name in RANDOM_IN_TRAINING else None)


@pytest.mark.parametrize(("name", "factory"), LAYER_ZOO, ids=[n for n, _ in LAYER_ZOO])
def test_layer_takes_unbatched_input(name, factory):
    torch.manual_seed(0)
    layer = factory(eqcnn.Cyclic(4)).eval()
    x = torch.randn(layer.in_type.size, 9, 9)
    assert torch.allclose(layer(x), layer(x[None])[0], atol=1e-6)


def _odd_size(draw_size: int, name: str) -> int:
    return draw_size | 1 if name in ODD_SIZES_ONLY else draw_size


@settings(max_examples=25, deadline=None)
@given(
    index=st.integers(0, len(LAYER_ZOO) - 1),
    group=st.sampled_from(GROUPS),
    size=st.integers(5, 14),
    batch=st.integers(1, 3),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
)
def test_layer_equivariance_property(index, group, size, batch, scale):
    name, factory = LAYER_ZOO[index]
    torch.manual_seed(index)
    layer = factory(group)
    size = _odd_size(size, name)
    x = scale * torch.randn(batch, layer.in_type.size, size, size)
    check_equivariant(layer, x, seed=2 if name in RANDOM_IN_TRAINING else None)


def test_linear_is_invariant_on_invariant_features():
    G = eqcnn.Cyclic(4)
    net = enn.Sequential(
        enn.Conv2d(G.trivial(1), G.regular(3), 3, padding=1),
        enn.GroupPool(G.regular(3)),
        enn.AdaptiveAvgPool2d(G.trivial(3), 1),
        torch.nn.Flatten(),
        enn.Linear(G.trivial(3), 5),
    )
    assert net.out_type == G.trivial(5)
    x = torch.randn(2, 1, 10, 10)
    y = net(x)
    for g in G.elements:
        assert torch.allclose(net(G.trivial(1).transform(x, g)), y, rtol=1e-5, atol=1e-6)
