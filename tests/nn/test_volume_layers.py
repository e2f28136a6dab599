"""The 3-D layers: exact octahedral equivariance, torch's layers for Trivial(), export, state_dict, errors."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import eqcnn
from eqcnn import nn as enn
from eqcnn.models import ResNet3d
from eqcnn.testing import TOLERANCES, assert_equivariant

O, OH, T = eqcnn.Octahedral(), eqcnn.FullOctahedral(), eqcnn.Trivial()


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def check_all_elements(layer, x: torch.Tensor, seed: int | None = None) -> float:
    """The worst relative error of ``layer(g x)`` against ``g layer(x)`` over every element."""
    worst = 0.0
    t_in, t_out = layer.in_type, layer.out_type
    for g in t_out.group.elements:  # (a restriction's: the subgroup's)
        if seed is not None:
            torch.manual_seed(seed)
        y = layer(x)
        if seed is not None:
            torch.manual_seed(seed)
        worst = max(worst, rel(layer(t_in.transform(x, t_in.group.embed(g))), t_out.transform(y, g)))
    return worst


def _field(G, kind: str, n: int):
    if kind == "regular":
        return G.regular(n)
    if kind == "trivial":
        return G.trivial(n)
    if kind == "quotient":
        return G.quotient(O, n) if G.has_reflections else G.trivial(n)
    return G.irreps_field(G.irrep_names()[3], multiplicity=n)  # a 3-D irrep (T1 / T1g)


CASES = st.tuples(
    st.sampled_from([O, OH]),
    st.sampled_from(["trivial", "regular", "irrep", "quotient"]),
    st.sampled_from(["trivial", "regular", "irrep", "quotient"]),
    st.sampled_from([1, 3, 5]),
    st.sampled_from([1, 2]),
    st.integers(4, 8),
)


@settings(max_examples=20, deadline=None)
@given(CASES)
def test_conv3d_is_exactly_equivariant_for_every_element(case):
    G, a, b, k, stride, n = case
    t_in, t_out = _field(G, a, 1), _field(G, b, 1)
    pad = k // 2
    if stride == 2 and (n + 2 * pad - k) % 2:
        n += 1  # a symmetric sampled grid (exact_input_sizes' rule)
    try:
        conv = enn.Conv3d(t_in, t_out, k, stride=stride, padding=pad)
    except ValueError as e:
        assert "no equivariant" in str(e)
        return
    x = torch.randn(2, t_in.size, n, n, n)
    assert check_all_elements(conv, x) < TOLERANCES[torch.float32]


@pytest.mark.parametrize("G", [O, OH], ids=["O", "Oh"])
def test_every_3d_layer_is_exactly_equivariant_in_train_and_eval_mode(G):
    r, mixed = G.regular(2), G.regular(1) + G.trivial(1)
    layers = [
        enn.Conv3d(G.trivial(1), r, 3, padding=1),
        enn.Conv3d(r, mixed, 3, padding="same", padding_mode="circular"),
        enn.ConvTranspose3d(r, mixed, 3, stride=2, padding=1),
        enn.BatchNorm3d(mixed),
        enn.ReLU(r),
        enn.ELU(r),
        enn.MaxPool3d(r, 3, stride=2, padding=1),
        enn.AvgPool3d(r, 2),
        enn.AdaptiveAvgPool3d(r, 2),
        enn.AdaptiveMaxPool3d(r, 1),
        enn.GroupPool(r),
        enn.GroupPool(r, mode="mean"),
        enn.GroupNorm(2, r),
        enn.FieldDropout(r, 0.5),
        enn.NormNonlinearity(G.irreps_field(G.irrep_names()[3], multiplicity=2)),
        enn.Restrict(r, O) if G.has_reflections else enn.Identity(r),
    ]
    for layer in layers:
        for training in (True, False):
            layer.train(training)
            n = 6 if isinstance(layer, enn.AvgPool3d) else 7
            x = torch.randn(2, layer.in_type.size, n, n, n)
            seed = 3 if isinstance(layer, enn.FieldDropout) else None
            err = check_all_elements(layer, x, seed)
            assert err < TOLERANCES[torch.float32], (layer, training, err)
            # unbatched (C, D, H, W): the batch of one
            if not training:
                torch.testing.assert_close(layer(x[0]), layer(x[:1])[0], rtol=1e-5, atol=1e-6)


CONFIGS = [
    dict(kernel_size=3),
    dict(kernel_size=(3, 2, 1), stride=(1, 2, 1), padding=(1, 0, 2)),
    dict(kernel_size=3, padding="same", dilation=2),
    dict(kernel_size=2, padding="same"),
    dict(kernel_size=3, groups=2, bias=False),
    dict(kernel_size=3, padding=1, padding_mode="reflect"),
    dict(kernel_size=3, padding=1, padding_mode="circular"),
]


@pytest.mark.parametrize("kw", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_conv3d_over_trivial_is_torch_conv3d(kw):
    ours = enn.Conv3d(T.trivial(4), T.trivial(6), **kw)
    theirs = torch.nn.Conv3d(4, 6, **kw)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert ours.weight.shape == theirs.weight.shape
    theirs.load_state_dict(ours.state_dict(), strict=False)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 4, 7, 8, 9)
    assert torch.equal(ours(x), theirs(x))
    exported = ours.export()
    assert type(exported) is torch.nn.Conv3d and torch.equal(exported(x), theirs(x))


def test_other_3d_layers_over_trivial_are_torchs():
    x = torch.randn(3, 4, 6, 7, 8)
    t = T.trivial(4)
    pairs = [
        (enn.BatchNorm3d(t), torch.nn.BatchNorm3d(4)),
        (enn.MaxPool3d(t, 2, stride=1), torch.nn.MaxPool3d(2, stride=1)),
        (enn.AvgPool3d(t, 3, padding=1), torch.nn.AvgPool3d(3, padding=1)),
        (enn.AdaptiveAvgPool3d(t, (2, 3, None)), torch.nn.AdaptiveAvgPool3d((2, 3, None))),
        (enn.ConvTranspose3d(t, T.trivial(2), 3, stride=2), torch.nn.ConvTranspose3d(4, 2, 3, stride=2)),
        (enn.ReLU(t), torch.nn.ReLU()),
    ]
    for ours, theirs in pairs:
        theirs.load_state_dict(ours.state_dict(), strict=False)
        for training in (True, False):
            ours.train(training), theirs.train(training)
            torch.testing.assert_close(ours(x), theirs(x), rtol=1e-6, atol=1e-6)
        assert type(ours.export()) is type(theirs)


def test_batchnorm3d_state_dict_is_the_same_in_train_and_eval():
    bn = enn.BatchNorm3d(O.regular(2))
    bn(torch.randn(2, 48, 3, 3, 3))
    keys = set(bn.state_dict())
    assert set(bn.eval().state_dict()) == keys and bn.running_var.shape == (2,)


@pytest.mark.parametrize("G", [O, OH, T], ids=["O", "Oh", "T"])
def test_export_scripts_and_pickles(G):
    r = G.regular(1)
    net = enn.Sequential(
        enn.Conv3d(G.trivial(1), r, 3, padding=1),
        enn.BatchNorm3d(r),
        enn.ReLU(r),
        enn.MaxPool3d(r, 2),
        enn.ConvTranspose3d(r, r, 3, stride=2, padding=1),
        enn.GroupPool(r),
    ).eval()
    x = torch.randn(2, 1, 8, 8, 8)
    y = net(x)
    plain = enn.export(net)
    torch.testing.assert_close(plain(x), y, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.jit.script(plain)(x), y, rtol=1e-5, atol=1e-6)
    again = pickle.loads(pickle.dumps(net))
    torch.testing.assert_close(again(x), y, rtol=0, atol=0)
    torch.testing.assert_close(copy.deepcopy(net)(x), y, rtol=0, atol=0)
    assert repr(net).splitlines()[1].strip() == f"(0): Conv3d({G.trivial(1)!r}, {r!r}, kernel_size=3, padding=1)"


def test_float64_and_state_dict_round_trip():
    conv = enn.Conv3d(OH.regular(1), OH.regular(1), 3, padding=1).double()
    x = torch.randn(1, 48, 5, 5, 5, dtype=torch.float64)
    assert check_all_elements(conv, x) < TOLERANCES[torch.float64]
    other = enn.Conv3d(OH.regular(1), OH.regular(1), 3, padding=1).double()
    other.load_state_dict(conv.state_dict())
    assert torch.equal(other(x), conv(x))
    with pytest.raises(ValueError, match="cannot load a state_dict saved from a Conv3d"):
        enn.Conv3d(O.regular(2), O.regular(1), 3).load_state_dict(conv.state_dict())


def test_regular_weights_are_one_free_row_per_field_pair():
    conv = enn.Conv3d(O.regular(3), O.regular(2), 5)
    assert conv.weight.numel() == 2 * 3 * 24 * 125  # 1/24 of a plain Conv3d(72, 48, 5)
    lift = enn.Conv3d(O.trivial(2), O.regular(4), 3)
    assert lift.weight.numel() == 4 * 2 * 27
    # He initialisation: the filter entries have torch's variance 2 / fan_in
    torch.manual_seed(0)
    f = enn.Conv3d(O.regular(8), O.regular(8), 3).expand_parameters()[0]
    assert abs(f.var().item() * 192 * 27 / 2 - 1) < 0.05


def test_the_filter_bank_projects_back_onto_its_weights():
    conv = enn.Conv3d(O.regular(2) + O.trivial(1), O.regular(1) + O.irreps_field("T1"), 3)
    filt = conv.expand_parameters()[0].detach()
    w = conv._bank.project(filt)
    torch.testing.assert_close(w.to(conv.weight.dtype), conv.weight.detach(), rtol=1e-5, atol=1e-6)


def test_bad_input_gets_clear_errors():
    with pytest.raises(
        ValueError, match=r"Conv3d: input must have shape \(B, C, D, H, W\) or \(C, D, H, W\) with C=24"
    ):
        enn.Conv3d(O.regular(1), O.regular(1), 3)(torch.randn(24, 5, 5))
    with pytest.raises(ValueError, match=r"got 1 \(shape \(1, 24, 5, 5\) read as unbatched \(C, D, H, W\)\)"):
        enn.Conv3d(O.regular(1), O.regular(1), 3)(torch.randn(1, 24, 5, 5))
    with pytest.raises(ValueError, match=r"Conv2d: input must have shape \(B, C, H, W\).*a 2D layer takes images"):
        enn.Conv2d(T.trivial(1), T.trivial(1), 3)(torch.randn(1, 1, 5, 5, 5))
    with pytest.raises(ValueError, match=r"`in_type` of Conv2d must be over a planar group.*use Conv3d"):
        enn.Conv2d(O.trivial(1), O.regular(1), 3)
    with pytest.raises(ValueError, match=r"`in_type` of Conv3d must be over a group of space.*use Conv2d"):
        enn.Conv3d(eqcnn.Cyclic(4).trivial(1), eqcnn.Cyclic(4).regular(1), 3)
    with pytest.raises(ValueError, match=r"`in_type` of BatchNorm2d must be over a planar group.*BatchNorm3d"):
        enn.BatchNorm2d(O.regular(1))
    with pytest.raises(ValueError, match=r"`in_type` of MaxPool3d must be over a group of space"):
        enn.MaxPool3d(eqcnn.Dihedral(4).regular(1), 2)
    with pytest.raises(ValueError, match=r"`kernel_size` must be odd and cubic for Octahedral\(\).*use 5"):
        enn.Conv3d(O.trivial(1), O.regular(1), 4)
    with pytest.raises(ValueError, match=r"`kernel_size` must be odd and cubic"):
        enn.Conv3d(O.trivial(1), O.regular(1), (3, 3, 5))
    with pytest.raises(ValueError, match=r"`kernel_size` must be an int or a tuple of 3 ints, got \(3, 3\)"):
        enn.Conv3d(T.trivial(1), T.trivial(1), (3, 3))
    with pytest.raises(ValueError, match=r"`basis` \(='harmonic'\) must be 'pixel'"):
        enn.Conv3d(O.trivial(1), O.regular(1), 3, basis="harmonic")
    msg = r"FullOctahedral\(\).trivial\(1\) to FullOctahedral\(\).irreps_field\('T1g'\); the smallest kernel_size"
    with pytest.raises(ValueError, match=r"no equivariant 3x3x3 filter maps " + msg + " that holds one is 5"):
        enn.Conv3d(OH.trivial(1), OH.irreps_field("T1g"), 3)
    msg = r"Octahedral\(\).irreps_field\('E'\) to Octahedral\(\).irreps_field\('T1'\); the smallest kernel_size"
    with pytest.raises(ValueError, match=r"no equivariant 1x1x1 filter maps " + msg + " that holds one is 3"):
        enn.Conv3d(O.irreps_field("E"), O.irreps_field("T1"), 1)
    with pytest.raises(ValueError, match=r"`output_size` \(=\(1, 2, 1\)\) must be the same along the three axes"):
        enn.AdaptiveAvgPool3d(O.regular(1), (1, 2, 1))
    with pytest.raises(ValueError, match="cannot concatenate field types of different groups"):
        _ = O.regular(1) + OH.regular(1)


def test_strides_that_break_the_grid_are_named_with_the_sizes_that_do_not():
    net = enn.Sequential(enn.Conv3d(O.trivial(1), O.regular(1), 3, stride=2, padding=1), enn.GroupPool(O.regular(1)))
    r = enn.exact_input_sizes(net, 16)
    assert not r.is_exact and r.nearest == ((15, 15, 15), (17, 17, 17))
    with pytest.raises(AssertionError, match=r"nearest exact sizes: below \(15, 15, 15\), above \(17, 17, 17\)"):
        assert_equivariant(net, size=16)
    assert_equivariant(net, size=15)


@pytest.mark.parametrize("G", [O, OH], ids=["O", "Oh"])
def test_resnet3d_is_invariant_and_has_the_fields_num_fields_gives(G):
    model = ResNet3d(G, widths=(8, 8, 16), num_classes=3)
    # match="params": channels / sqrt(|G|) regular fields, rounded (the regular -> regular convs then have the
    # plain network's parameters up to that rounding; test_regular_weights_are_one_free_row_per_field_pair)
    assert len(model.stages[-1][-1].body[0].out_type) == round(16 / G.order**0.5)
    report = assert_equivariant(model, size=9)
    assert report.judged == G.order - 1
    with pytest.raises(ValueError, match=r"acts on volumes, but ResNet is for images; use ResNet3d"):
        eqcnn.models.ResNet(G)


def test_trivial_conv3d_gets_torchs_initialisation_variance():
    torch.manual_seed(0)
    conv = enn.Conv3d(T.trivial(16), T.trivial(64), 5)
    assert abs(conv.weight.var().item() * 16 * 125 / 2 - 1) < 0.05  # He: 2 / fan_in, fan_in = 16 * 5^3


def test_unbatched_volumes_through_trivial_containers():
    model = ResNet3d(T, widths=(4, 4, 4), num_classes=3).eval()
    x = torch.randn(1, 9, 9, 9)
    torch.testing.assert_close(model(x), model(x[None])[0], rtol=1e-5, atol=1e-6)
    seq = enn.Sequential(enn.Conv3d(T.trivial(1), T.trivial(3), 3), enn.ReLU(T.trivial(3)), enn.GroupPool(T.trivial(3)))
    assert seq(x).shape == (3, 7, 7, 7)


def test_group_norm_and_fourier_layers_take_volumes():
    gn = enn.GroupNorm(2, T.trivial(2))
    assert gn(torch.randn(1, 2, 1, 1, 5)).shape == (1, 2, 1, 1, 5)  # 5 values per group: torch takes it too
    t = O.irreps_field("A1") + O.irreps_field("T1")
    layer = enn.FourierELU(t)  # sampled on the 24 elements: exact for a finite group
    x = torch.randn(2, t.size, 5, 5, 5)
    assert layer(x).shape == x.shape
    assert check_all_elements(layer, x) < 1e-5


def test_more_mixing_errors():
    with pytest.raises(ValueError, match=r"`basis` \(='harmonic'\) must be 'pixel'"):
        enn.Conv3d(T.trivial(1), T.trivial(1), 3, basis="harmonic")
    with pytest.raises(ValueError, match=r"BlurPool2d has no 3-D version"):
        enn.BlurPool2d(O.regular(1))
    with pytest.raises(ValueError, match=r"`size` must be an int or \(D, H, W\) for a model of volumes, got \(9, 9\)"):
        enn.exact_input_sizes(enn.Sequential(enn.Conv3d(O.trivial(1), O.regular(1), 3)), (9, 9))
    with pytest.raises(ValueError, match=r"is not a subgroup of Trivial\(\), which has one element"):
        T.regular(1).restrict(O)
    with pytest.raises(ValueError, match=r"`kernel_size` must be odd and cubic for Octahedral\(\).*\(3, 3, 5\); use 5"):
        enn.Conv3d(O.trivial(1), O.regular(1), (3, 3, 5))


def test_unbatched_images_through_a_container_keep_torchs_tuple_outputs():
    G = eqcnn.Cyclic(4)
    seq = enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(1), 3, padding=1), enn.MaxPool2d(G.regular(1), 2,
                         return_indices=True))  # fmt: skip
    out, idx = seq(torch.randn(1, 8, 8))
    assert out.shape == (4, 4, 4) and idx.shape == (4, 4, 4)
