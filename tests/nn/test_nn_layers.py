"""Behaviour of the layers beyond equivariance: torch parity for Trivial(), shapes, errors, printing."""

from __future__ import annotations

import pytest
import torch
from equivariance_check import relative_error
from torch import nn

import eqcnn
from eqcnn import nn as enn

C4, D4, TRIV = eqcnn.Cyclic(4), eqcnn.Dihedral(4), eqcnn.Trivial()


# -- nonlinearities -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [enn.ReLU, enn.ELU, enn.GELU, enn.LeakyReLU, enn.SiLU, enn.Sigmoid, enn.Tanh])
def test_pointwise_rejects_irreps_with_a_pointer_to_norm_and_gated(cls):
    with pytest.raises(ValueError, match=r"field 0 of `in_type` is Cyclic\(4\).irrep\(1\).*NormNonlinearity"):
        cls(C4.irreps_field(1))


@pytest.mark.parametrize(
    ("layer", "torch_layer"),
    [
        (enn.ReLU(C4.regular(2)), nn.ReLU()),
        (enn.ELU(C4.regular(2), alpha=0.5), nn.ELU(0.5)),
        (enn.GELU(C4.regular(2), approximate="tanh"), nn.GELU("tanh")),
        (enn.LeakyReLU(C4.regular(2), 0.2), nn.LeakyReLU(0.2)),
        (enn.PointwiseNonlinearity(C4.regular(2), nn.Softplus()), nn.Softplus()),
    ],
)
def test_pointwise_matches_torch_and_exports_to_it(layer, torch_layer):
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(layer(x), torch_layer(x))
    exported = layer.export()
    assert type(exported) is type(torch_layer)
    assert torch.equal(exported(x), torch_layer(x))


def test_pointwise_rejects_parametrised_functions_and_prints_like_its_constructor():
    with pytest.raises(ValueError, match="`function` must have no parameters"):
        enn.PointwiseNonlinearity(C4.regular(1), nn.PReLU(4))
    assert repr(enn.ELU(C4.regular(2), alpha=0.5)) == "ELU(Cyclic(4).regular(2), alpha=0.5)"
    assert repr(enn.ReLU(C4.regular(2))) == "ReLU(Cyclic(4).regular(2))"


def test_norm_nonlinearity_keeps_directions_and_thresholds_norms():
    layer = enn.NormNonlinearity(C4.irreps_field(1, multiplicity=2))
    with torch.no_grad():
        layer.bias.fill_(1.0)
    x = torch.zeros(1, 4, 1, 1)
    x[0, :2, 0, 0] = torch.tensor([3.0, 4.0])  # norm 5 -> relu(5 - 1) / 5 = 0.8
    x[0, 2:, 0, 0] = torch.tensor([0.3, 0.4])  # norm 0.5 -> 0
    y = layer(x)[0, :, 0, 0]
    assert torch.allclose(y, torch.tensor([2.4, 3.2, 0.0, 0.0]))
    with pytest.raises(ValueError, match="`function` must be one of"):
        enn.NormNonlinearity(C4.regular(1), "relu")


def test_gated_nonlinearity_input_type_is_checked():
    gated = C4.irreps_field(1, multiplicity=2)
    act = enn.GatedNonlinearity(enn.GatedNonlinearity.input_type(gated))
    assert act.in_type == C4.trivial(2) + gated and act.out_type == gated
    x = torch.randn(1, 6, 3, 3)
    expected = x[:, 2:] * torch.sigmoid(x[:, :2]).repeat_interleave(2, dim=1)
    assert torch.allclose(act(x), expected)
    with pytest.raises(ValueError, match="n trivial gate fields followed by the n fields they gate"):
        enn.GatedNonlinearity(gated)


# -- normalisation ------------------------------------------------------------------------------
def test_batchnorm_on_trivial_group_is_torch_batchnorm_in_train_and_eval():
    torch.manual_seed(0)
    ours, ref = enn.BatchNorm2d(TRIV.trivial(6), momentum=0.3), nn.BatchNorm2d(6, momentum=0.3)
    with torch.no_grad():
        for bn in (ours, ref):
            bn.weight.uniform_(0.5, 2)
        ref.weight.copy_(ours.weight)
        ours.bias.normal_()
        ref.bias.copy_(ours.bias)
    assert {k: v.shape for k, v in ours.state_dict().items() if k != "_extra_state"} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    for _ in range(3):
        x = torch.randn(4, 6, 5, 7) * 3 + 1
        assert relative_error(ours(x), ref(x)) < 1e-5
    assert torch.allclose(ours.running_mean, ref.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, ref.running_var, rtol=1e-5)
    ours.eval(), ref.eval()
    x = torch.randn(4, 6, 5, 7)
    assert relative_error(ours(x), ref(x)) < 1e-6


def test_batchnorm_shares_statistics_per_field_and_biases_only_invariant_parts():
    t = C4.regular(2) + C4.irreps_field(1) + C4.trivial(1)
    bn = enn.BatchNorm2d(t)
    assert bn.weight.shape == (4,)  # one scale per field
    assert bn.bias.shape == (3,)  # regular: 1 invariant each, irrep(1): none, trivial: 1
    assert bn.running_var.shape == (4,) and bn.running_mean.shape == (t.size,)
    x = torch.randn(8, t.size, 6, 6) * 2 + 5
    y = bn(x)
    reg = y[:, :4]
    assert abs(reg.mean().item()) < 1e-5 and abs(reg.pow(2).mean().item() - 1) < 1e-3
    vec = y[:, 8:10]
    # irreps field: scaled, not centred -> mean of the field stays proportional to the input's
    assert torch.allclose(vec / vec.norm(), x[:, 8:10] / x[:, 8:10].norm(), atol=1e-6)


def test_batchnorm_rejects_bad_types_and_inputs():
    with pytest.raises(TypeError, match="`in_type` must be an eqcnn FieldType"):
        enn.BatchNorm2d(8)
    bn = enn.BatchNorm2d(C4.regular(2))
    with pytest.raises(eqcnn._checks.ShapeError, match="input must have 8 channels"):
        bn(torch.randn(2, 7, 4, 4))
    assert repr(enn.BatchNorm2d(C4.regular(2), momentum=0.2)) == "BatchNorm2d(Cyclic(4).regular(2), momentum=0.2)"


@pytest.mark.parametrize(
    ("kwargs", "train"),
    [({}, True), ({"track_running_stats": False}, False)],
    ids=["training", "no-running-stats"],
)
def test_batchnorm_refuses_one_value_per_channel_as_torch(kwargs, train):
    ours = enn.BatchNorm2d(TRIV.trivial(3), **kwargs).train(train)
    ref = nn.BatchNorm2d(3, **kwargs).train(train)
    x = torch.randn(1, 3, 1, 1)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        ref(x)
    with pytest.raises(
        ValueError,
        match=r"BatchNorm2d: Expected more than 1 value per channel when training, got input size "
        r"torch.Size\(\[1, 3, 1, 1\]\)",
    ):
        ours(x)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        ours(x[0])  # unbatched
    if ours.track_running_stats:
        assert torch.equal(ours.running_var, torch.ones(3)) and int(ours.num_batches_tracked) == 0  # untouched
    for ok in (torch.randn(2, 3, 1, 1), torch.randn(1, 3, 1, 2)):
        assert relative_error(ours(ok), ref(ok)) < 1e-5
    regular = enn.BatchNorm2d(C4.regular(2), **kwargs).train(train)  # the same rule for every field type
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        regular(torch.randn(1, 8, 1, 1))
    ours.eval(), ref.eval()
    if ours.track_running_stats:  # running statistics: one value is fine
        assert relative_error(ours(x), ref(x)) < 1e-6


def test_groupnorm_refuses_one_value_per_group_as_torch():
    ours, ref = enn.GroupNorm(3, TRIV.trivial(3)), nn.GroupNorm(3, 3)
    x = torch.randn(1, 3, 1, 1)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        ref(x)
    with pytest.raises(
        ValueError,
        match=r"GroupNorm: expected more than 1 value per group of channels, got input size "
        r"torch.Size\(\[1, 3, 1, 1\]\) with num_groups=3",
    ):
        ours(x)
    for ok in (torch.randn(2, 3, 1, 1), torch.randn(1, 3, 2, 1)):
        assert torch.allclose(ours(ok), ref(ok), atol=1e-4)  # one value a group for each sample: zeros
    assert enn.GroupNorm(3, C4.regular(3))(torch.randn(1, 12, 1, 1)).shape == (1, 12, 1, 1)  # 4 values a group


def test_groupnorm_on_trivial_group_is_torch_groupnorm():
    torch.manual_seed(0)
    ours, ref = enn.GroupNorm(3, TRIV.trivial(6)), nn.GroupNorm(3, 6)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 2)
        ours.bias.normal_()
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    x = torch.randn(4, 6, 5, 7) * 3 + 1
    assert relative_error(ours(x), ref(x)) < 1e-5
    with pytest.raises(
        ValueError, match=r"number of fields of `in_type` \(=6\) must be divisible by `num_groups` \(=4\)"
    ):
        enn.GroupNorm(4, TRIV.trivial(6))


# -- pooling ------------------------------------------------------------------------------------
def test_max_pooling_rejects_irreps_and_group_pool_types():
    with pytest.raises(ValueError, match="MaxPool2d acts on each channel separately"):
        enn.MaxPool2d(C4.irreps_field(1), 2)
    with pytest.raises(ValueError, match="GroupPool acts on each channel separately"):
        enn.GroupPool(C4.irreps_field(1))
    pool = enn.GroupPool(C4.trivial(1) + C4.regular(2))
    assert pool.out_type == C4.trivial(3)
    x = torch.randn(2, 9, 3, 3)
    y = pool(x)
    assert torch.equal(y[:, 0], x[:, 0]) and torch.equal(y[:, 1], x[:, 1:5].amax(1))
    with pytest.raises(ValueError, match="`mode` must be one of 'max', 'mean'"):
        enn.GroupPool(C4.regular(1), "sum")


def test_blur_pool_is_a_normalised_binomial_blur_then_subsample():
    pool = enn.BlurPool2d(C4.regular(1), stride=2)
    x = torch.ones(1, 4, 9, 9)
    assert torch.allclose(pool(x), torch.ones(1, 4, 5, 5))
    assert torch.allclose(pool.filter[0, 0], torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16.0)
    with pytest.raises(ValueError, match="`filter_size` must be odd"):
        enn.BlurPool2d(C4.regular(1), filter_size=4)


@pytest.mark.parametrize(
    ("layer", "torch_layer"),
    [
        (enn.MaxPool2d(C4.regular(2), 3, 2, 1), nn.MaxPool2d(3, 2, 1)),
        (enn.AvgPool2d(C4.regular(2), 2), nn.AvgPool2d(2)),
        (enn.AdaptiveAvgPool2d(C4.regular(2), 3), nn.AdaptiveAvgPool2d(3)),
        (enn.AdaptiveMaxPool2d(C4.regular(2), 2), nn.AdaptiveMaxPool2d(2)),
        (enn.Upsample(C4.regular(2), scale_factor=2), nn.Upsample(scale_factor=2)),
    ],
)
def test_spatial_layers_match_torch(layer, torch_layer):
    x = torch.randn(2, 8, 9, 9)
    assert torch.equal(layer(x), torch_layer(x))


def test_upsample_rejects_inexact_nearest():
    with pytest.raises(ValueError, match="integer `scale_factor`"):
        enn.Upsample(C4.regular(1), scale_factor=1.5)
    with pytest.raises(ValueError, match="exactly one of `size` and `scale_factor`"):
        enn.Upsample(C4.regular(1))


# -- dropout, linear, transpose conv ------------------------------------------------------------
def test_field_dropout_drops_whole_fields_and_is_identity_in_eval():
    torch.manual_seed(0)
    drop = enn.FieldDropout(C4.regular(50), p=0.5)
    y = drop(torch.ones(2, 200, 3, 3)).view(2, 50, 4, 9)
    per_field = y.flatten(2)
    assert torch.all((per_field == 0).all(-1) | (per_field == 2).all(-1))  # a field is dropped or kept whole
    assert 0 < (per_field == 0).all(-1).sum() < 100
    drop.eval()
    x = torch.randn(2, 200, 3, 3)
    assert drop(x) is x
    with pytest.raises(ValueError, match=r"`p` must be a probability in \[0, 1\], got 1.5"):
        enn.FieldDropout(C4.regular(1), p=1.5)


def test_linear_needs_invariant_input():
    with pytest.raises(ValueError, match="`in_type` of Linear must be trivial"):
        enn.Linear(C4.regular(2), 3)
    lin = enn.Linear(C4.trivial(4), 3)
    with pytest.raises(eqcnn._checks.ShapeError, match="4 features in its last dimension"):
        lin(torch.randn(2, 4, 1, 1))
    assert torch.allclose(lin(torch.ones(2, 4)), lin.export()(torch.ones(2, 4)))


def test_conv_transpose_on_trivial_group_is_torch_conv_transpose():
    torch.manual_seed(0)
    ours = enn.ConvTranspose2d(TRIV.trivial(3), TRIV.trivial(5), (3, 4), stride=2, padding=1, output_padding=1)
    ref = nn.ConvTranspose2d(3, 5, (3, 4), stride=2, padding=1, output_padding=1)
    assert ours.weight.numel() + ours.bias.numel() == sum(p.numel() for p in ref.parameters())
    with torch.no_grad():
        ref.weight.copy_(ours.expand_parameters()[0])
        ref.bias.copy_(ours.bias)
    x = torch.randn(2, 3, 6, 7)
    assert torch.equal(ours(x), ref(x))


def test_conv_transpose_output_padding_breaks_the_symmetry():
    torch.manual_seed(0)
    G = C4
    layer = enn.ConvTranspose2d(G.regular(1), G.regular(1), 3, stride=2, padding=1, output_padding=1)
    x = torch.randn(1, 4, 7, 7)
    g = G.elements[1]
    err = relative_error(layer(G.regular(1).transform(x, g)), G.regular(1).transform(layer(x), g))
    assert err > 1e-2  # documented: output_padding adds a row on one side only
    with pytest.raises(ValueError, match="`kernel_size` must be odd and square"):
        enn.ConvTranspose2d(G.regular(1), G.regular(1), 4)


@pytest.mark.parametrize(
    "kwargs",
    [{"momentum": None}, {"track_running_stats": False}, {"affine": False}, {"eps": 1e-3, "momentum": 0.5}],
    ids=["cumulative", "no-running-stats", "no-affine", "eps-momentum"],
)
def test_batchnorm_options_match_torch_on_trivial_fields(kwargs):
    torch.manual_seed(0)
    ours, ref = enn.BatchNorm2d(TRIV.trivial(4), **kwargs), nn.BatchNorm2d(4, **kwargs)
    for _ in range(3):
        x = torch.randn(3, 4, 5, 5) * 2 - 1
        assert relative_error(ours(x), ref(x)) < 1e-5
    ours.eval(), ref.eval()
    x = torch.randn(3, 4, 5, 5)
    assert relative_error(ours(x), ref(x)) < 1e-5
    assert relative_error(ours.export()(x), ref(x)) < 1e-5
