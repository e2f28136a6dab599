"""The hypothesis strategies generate valid combinations only."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eqcnn
from eqcnn.testing import strategies as est


@settings(max_examples=25)
@given(est.groups(max_n=6))
def test_groups(G):
    assert isinstance(G, (eqcnn.Cyclic, eqcnn.Dihedral)) and 1 <= G.N <= 6


@settings(max_examples=25)
@given(est.groups(grid_symmetric=True))
def test_grid_symmetric_groups(G):
    assert G.is_grid_symmetric


@settings(max_examples=25)
@given(st.data())
def test_field_types(data):
    G = data.draw(est.groups())
    t = data.draw(est.field_types(G, kinds=("regular", "irrep"), max_fields=3, max_channels=20))
    assert 1 <= len(t) <= 3 and t.group == G
    assert t.size <= 20 or len(t) == 1


@settings(max_examples=40)
@given(st.data())
def test_conv_configs_and_sizes(data):
    cfg = data.draw(est.conv_configs())
    assert cfg.kernel_size % 2 == 1 and cfg.padding in (0, cfg.dilation * (cfg.kernel_size - 1) // 2)
    n = data.draw(est.input_sizes(cfg, max_size=24))
    assert cfg.output_size(n) >= 1 and cfg.samples_symmetric_grid(n)
    if cfg.stride == 1:
        m = data.draw(est.input_sizes(cfg, max_size=24, circular_shifts=True))
        assert cfg.samples_symmetric_grid(m)


def test_input_sizes_errors_and_groups_errors():
    with pytest.raises(ValueError, match="no input size"):
        est.input_sizes(est.ConvConfig(5, dilation=4), max_size=10)
    with pytest.raises(ValueError, match="`families` must name"):
        est.groups(families=())


def test_config_kwargs_build_a_conv():
    from eqcnn import nn as enn

    G = eqcnn.Cyclic(4)
    cfg = est.ConvConfig(3, 2, 1, 1, "reflect")
    conv = enn.Conv2d(G.trivial(1), G.regular(1), **cfg.kwargs())
    assert conv.stride == (2, 2) and conv.padding_mode == "reflect"


@settings(max_examples=15)
@given(est.groups(families=("so2", "o2", "dihedral"), max_n=6).flatmap(
    lambda G: st.tuples(st.just(G), est.field_types(G, kinds=("trivial", "irrep", "quotient", "bl_regular")))
))  # fmt: skip
def test_field_types_over_continuous_groups_and_quotients(case):
    G, t = case
    assert t.group == G
    for rep in t.representations:
        if G.is_continuous:
            assert rep.is_trivial or rep.components is not None  # irreps and bl_regular: known direct sums
        else:
            assert not rep.name.startswith("bl_regular")
    if G.is_continuous:
        g = G.rotation_by(37)
        m = t.fibre_matrix(g)
        assert np.allclose(m @ m.T, np.eye(t.size), atol=1e-12)


def test_representations_refuse_kinds_the_group_lacks():
    with pytest.raises(ValueError, match=r"none of `kinds` \(regular, quotient\) applies to SO2"):
        est.representations(eqcnn.SO2(2), kinds=("regular", "quotient"))
