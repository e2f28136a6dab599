"""torch.nn's arguments, accepted and checked as torch does: same values with Trivial(), clear errors, repr, export."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import assert_equivariant

C4, D4, TRIV = eqcnn.Cyclic(4), eqcnn.Dihedral(4), eqcnn.Trivial()


def _same_weights(ours: enn.ConvTranspose2d, ref: nn.ConvTranspose2d) -> None:
    with torch.no_grad():
        ref.weight.copy_(ours.expand_parameters()[0])
        if ref.bias is not None:
            ref.bias.copy_(ours.expand_parameters()[1])


# -- ConvTranspose2d: groups and output_size ----------------------------------------------------
def test_conv_transpose_groups_on_trivial_group_is_torch_grouped_conv_transpose():
    torch.manual_seed(0)
    ours = enn.ConvTranspose2d(TRIV.trivial(4), TRIV.trivial(6), 3, stride=2, padding=1, groups=2)
    ref = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert ours.weight.shape == ref.weight.shape == (4, 3, 3, 3)  # torch's (in, out / groups, kh, kw)
    ref.load_state_dict({k: v for k, v in ours.state_dict().items() if k != "_extra_state"})
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(ours(x), ref(x))
    plain = ours.export()
    assert type(plain) is nn.ConvTranspose2d and plain.groups == 2
    assert torch.equal(plain(x), ref(x))
    assert repr(ours) == (
        "ConvTranspose2d(Trivial().trivial(4), Trivial().trivial(6), kernel_size=3, stride=2, padding=1, groups=2)"
    )
    assert repr(eval(repr(ours), {"Trivial": eqcnn.Trivial, "ConvTranspose2d": enn.ConvTranspose2d})) == repr(ours)


def test_conv_transpose_depthwise_matches_torch():
    torch.manual_seed(0)
    ours = enn.ConvTranspose2d(TRIV.trivial(6), TRIV.trivial(6), (3, 5), padding=(1, 2), groups=6, bias=False)
    ref = nn.ConvTranspose2d(6, 6, (3, 5), padding=(1, 2), groups=6, bias=False)
    _same_weights(ours, ref)
    x = torch.randn(2, 6, 7, 8)
    assert torch.equal(ours(x), ref(x))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"groups": 3}, ValueError, r"`in_type.size` \(=4\) must be divisible by `groups` \(=3\)"),
        ({"groups": 0}, ValueError, "`groups` must be >= 1, got 0"),
        ({"groups": 2, "basis": "harmonic"}, ValueError, r"`groups` \(=2\) needs basis='pixel'"),
    ],
)
def test_conv_transpose_groups_are_checked(kwargs, error, message):
    with pytest.raises(error, match=message):
        enn.ConvTranspose2d(TRIV.trivial(4), TRIV.trivial(6), 3, **kwargs)


def test_conv_transpose_groups_stay_refused_for_larger_groups():
    with pytest.raises(ValueError, match=r"`groups` \(=2\) must be 1 for Cyclic\(4\).*they are for Trivial\(\)"):
        enn.ConvTranspose2d(C4.regular(2), C4.regular(2), 3, groups=2)


@pytest.mark.parametrize(
    "output_size",
    [None, [9, 9], [10, 10], [9, 10], (2, 6, 10, 9), torch.Size([10, 10])],
    ids=["none", "smallest", "largest", "mixed", "full-shape", "torch-size"],
)
def test_conv_transpose_output_size_is_torch_output_size(output_size):
    torch.manual_seed(0)
    ours = enn.ConvTranspose2d(TRIV.trivial(4), TRIV.trivial(6), 3, stride=2, padding=1)
    ref = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1)
    _same_weights(ours, ref)
    x = torch.randn(2, 4, 5, 5)
    expected = ref(x, output_size)
    assert torch.equal(ours(x, output_size), expected)
    assert torch.equal(ours(x, output_size=output_size), expected)
    assert torch.equal(ours.export()(x, output_size), expected)
    unbatched = None if output_size is None else list(output_size)[-2:]
    assert torch.equal(ours(x[0], unbatched), ref(x[0], unbatched))


def test_conv_transpose_output_size_equals_the_matching_output_padding_on_regular_fields():
    torch.manual_seed(0)
    t = C4.regular(2)
    layer = enn.ConvTranspose2d(t, t, 3, stride=2, padding=1)
    padded = enn.ConvTranspose2d(t, t, 3, stride=2, padding=1, output_padding=(0, 1))
    padded.load_state_dict(layer.state_dict())
    x = torch.randn(1, 8, 5, 5)
    assert torch.equal(layer(x, [9, 9]), layer(x))  # the smallest size: no output padding, still equivariant
    assert torch.equal(layer(x, [9, 10]), padded(x))


@pytest.mark.parametrize(
    ("output_size", "error", "message"),
    [
        (
            [11, 10],
            ValueError,
            r"requested `output_size` \[11, 10\], but valid sizes range from \[9, 9\] to \[10, 10\] "
            r"\(for an input of size \(5, 5\)\)",
        ),
        ([8, 9], ValueError, r"valid sizes range from \[9, 9\] to \[10, 10\]"),
        ([1, 9, 9], ValueError, r"for 4D input, `output_size` must have 2 or 4 elements, got 3 \(\[1, 9, 9\]\)"),
        (9, TypeError, r"`output_size` must be a sequence of ints, got int \(9\)"),
        ([9.0, 9], TypeError, r"`output_size\[0\]` must be an int, got float \(9.0\)"),
    ],
)
def test_conv_transpose_output_size_is_checked(output_size, error, message):
    layer = enn.ConvTranspose2d(TRIV.trivial(4), TRIV.trivial(6), 3, stride=2, padding=1)
    with pytest.raises(error, match=message):
        layer(torch.randn(2, 4, 5, 5), output_size)


# -- Upsample: size and scale_factor as torch's, checked when built -----------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale_factor": (2, 3)},
        {"scale_factor": (2.0, 1.5), "mode": "bilinear"},
        {"scale_factor": [3, 3]},
        {"size": (5, 7), "mode": "bicubic"},
        {"size": [6, 6], "mode": "bilinear", "align_corners": True},
    ],
)
def test_upsample_pairs_on_trivial_group_are_torch_upsample(kwargs):
    layer = enn.Upsample(TRIV.trivial(3), **kwargs)
    torch_kwargs = {k: tuple(v) if k == "scale_factor" else v for k, v in kwargs.items()}  # torch: no lists
    ref = nn.Upsample(**torch_kwargs, recompute_scale_factor=True if "scale_factor" in kwargs else None)
    x = torch.randn(2, 3, 4, 5)
    assert torch.equal(layer(x), ref(x))
    assert torch.equal(layer.export()(x), ref(x))
    assert repr(eval(repr(layer), {"Trivial": eqcnn.Trivial, "Upsample": enn.Upsample})) == repr(layer)


def test_upsample_per_axis_factors_keep_the_symmetries_of_groups_without_quarter_turns():
    torch.manual_seed(0)
    D2 = eqcnn.Dihedral(2)  # the flips and the half turn map a rectangle onto itself
    layer = enn.Upsample(D2.regular(1), scale_factor=(2, 3), mode="bilinear")
    assert layer(torch.randn(1, 4, 5, 5)).shape == (1, 4, 10, 15)
    assert_equivariant(layer, size=9, shifts=[], baseline=None)
    same = enn.Upsample(C4.regular(1), scale_factor=(2, 2))  # equal factors: any group
    assert repr(same) == "Upsample(Cyclic(4).regular(1), scale_factor=(2.0, 2.0), mode='nearest')"
    assert_equivariant(same, size=9, shifts=[], baseline=None)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"scale_factor": -2.0, "mode": "bilinear"},
            ValueError,
            "`scale_factor` must be positive and finite, got -2.0",
        ),
        ({"scale_factor": float("inf"), "mode": "bilinear"}, ValueError, "must be positive and finite, got inf"),
        ({"scale_factor": (2, 0)}, ValueError, r"must be positive and finite, got \(2, 0\)"),
        ({"scale_factor": "2"}, TypeError, r"`scale_factor` must be a number or a pair of numbers, got str \('2'\)"),
        ({"scale_factor": True}, TypeError, "`scale_factor` must be a number or a pair of numbers, got bool"),
        ({"scale_factor": [2.0]}, ValueError, r"a pair of numbers \(one per axis\), got \[2.0\]"),
        ({"size": 0, "mode": "bilinear"}, ValueError, "`size` must be >= 1, got 0"),
        ({"size": (3,), "mode": "bilinear"}, ValueError, r"`size` must be an int or a pair of ints, got \(3,\)"),
        ({"size": 2.5, "mode": "bilinear"}, TypeError, r"`size` must be an int, got float \(2.5\)"),
        ({"scale_factor": (2, 1.5)}, ValueError, "`mode`='nearest' is exactly equivariant only with an integer"),
    ],
)
def test_upsample_arguments_are_checked_when_built(kwargs, error, message):
    with pytest.raises(error, match=message):
        enn.Upsample(TRIV.trivial(2), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale_factor": (2, 3)}, r"`scale_factor` \(=\(2, 3\)\) must be the same along both axes for Cyclic\(4\)"),
        ({"size": (5, 7), "mode": "bilinear"}, r"`size` \(=\(5, 7\)\) must be the same along both axes"),
    ],
)
def test_upsample_refuses_per_axis_resizing_where_rotations_swap_the_axes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        enn.Upsample(C4.regular(1), **kwargs)


# -- adaptive pools: None keeps that input size -------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "torch_cls"), [(enn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool2d), (enn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool2d)]
)
@pytest.mark.parametrize("output_size", [(None, 3), [4, None], (None, None), (2, 3)])
def test_adaptive_pool_none_entries_on_trivial_group_are_torch_adaptive_pools(cls, torch_cls, output_size):
    layer, ref = cls(TRIV.trivial(3), output_size), torch_cls(output_size)
    x = torch.randn(2, 3, 7, 9)
    assert torch.equal(layer(x), ref(x))
    assert torch.equal(layer.export()(x), ref(x))
    assert repr(eval(repr(layer), {"Trivial": eqcnn.Trivial, cls.__name__: cls})) == repr(layer)


def test_adaptive_pool_none_entries_keep_the_symmetries_they_can():
    torch.manual_seed(0)
    D2 = eqcnn.Dihedral(2)  # flips and the half turn keep a rectangle: any output size is exact
    for layer in (enn.AdaptiveAvgPool2d(D2.regular(1), (None, 3)), enn.AdaptiveMaxPool2d(D2.regular(1), (2, None))):
        assert_equivariant(layer, size=9, shifts=[], baseline=None)
    square = enn.AdaptiveAvgPool2d(D4.regular(1), (None, None))  # keeps the input's size: the identity
    assert repr(square) == "AdaptiveAvgPool2d(Dihedral(4).regular(1), output_size=(None, None))"
    x = torch.randn(1, 8, 9, 9)
    assert torch.equal(square(x), x)
    assert_equivariant(square, size=9, shifts=[], baseline=None)


@pytest.mark.parametrize(
    ("output_size", "error", "message"),
    [
        ((None, 3), ValueError, r"`output_size` \(=\(None, 3\)\) must be the same along both axes for Cyclic\(4\)"),
        ((2, 3), ValueError, r"`output_size` \(=\(2, 3\)\) must be the same along both axes"),
        ((0, 3), ValueError, "`output_size` must be >= 1, got 0"),
        ((1, 2, 3), ValueError, r"`output_size` must be an int or a pair of ints or None, got \(1, 2, 3\)"),
        (None, TypeError, r"got None \(use \(None, None\)\)"),
        ((2.0, 2), TypeError, r"`output_size` must be an int, got float \(2.0\)"),
    ],
)
def test_adaptive_pool_output_size_is_checked(output_size, error, message):
    for cls in (enn.AdaptiveAvgPool2d, enn.AdaptiveMaxPool2d):
        with pytest.raises(error, match=message):
            cls(C4.regular(1), output_size)


# -- MaxPool2d(return_indices), AvgPool2d(divisor_override), FieldDropout(p=1) -------------------
@pytest.mark.parametrize("group", [TRIV, C4], ids=repr)
def test_max_pool_return_indices_is_torch_and_unpools(group):
    t = group.regular(2) if group.order > 1 else group.trivial(2)
    layer = enn.MaxPool2d(t, 3, 2, 1, 1, True)  # torch's positional order: return_indices before ceil_mode
    ref = nn.MaxPool2d(3, 2, 1, 1, True)
    assert layer.return_indices and not layer.ceil_mode
    x = torch.randn(2, t.size, 9, 9)
    (out, idx), (ref_out, ref_idx) = layer(x), ref(x)
    assert torch.equal(out, ref_out) and torch.equal(idx, ref_idx)
    plain_out, plain_idx = layer.export()(x)
    assert torch.equal(plain_out, ref_out) and torch.equal(plain_idx, ref_idx)
    assert nn.MaxUnpool2d(3, 2, 1)(out, idx, output_size=x.shape[-2:]).shape == x.shape
    assert repr(layer).endswith("kernel_size=3, stride=2, padding=1, return_indices=True)")
    for g in group.elements:  # the values are equivariant as without indices
        assert torch.equal(layer(t.transform(x, g))[0], t.transform(out, g))


def test_adaptive_max_pool_return_indices_is_torch():
    layer = enn.AdaptiveMaxPool2d(C4.regular(1), 3, return_indices=True)
    ref = nn.AdaptiveMaxPool2d(3, return_indices=True)
    x = torch.randn(2, 4, 8, 8)
    for a, b in zip(layer(x), ref(x), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(layer.export()(x), ref(x), strict=True):
        assert torch.equal(a, b)
    assert repr(layer) == "AdaptiveMaxPool2d(Cyclic(4).regular(1), output_size=3, return_indices=True)"


@pytest.mark.parametrize("kwargs", [{}, {"padding": 1, "count_include_pad": False}, {"ceil_mode": True}])
def test_avg_pool_divisor_override_is_torch(kwargs):
    layer = enn.AvgPool2d(TRIV.trivial(3), 3, 2, divisor_override=4, **kwargs)
    ref = nn.AvgPool2d(3, 2, divisor_override=4, **kwargs)
    x = torch.randn(2, 3, 8, 9)
    assert torch.equal(layer(x), ref(x))
    assert torch.equal(layer.export()(x), ref(x))
    assert repr(eval(repr(layer), {"Trivial": eqcnn.Trivial, "AvgPool2d": enn.AvgPool2d})) == repr(layer)
    assert "divisor_override=4" in repr(layer)


def test_avg_pool_divisor_override_is_equivariant_and_checked():
    torch.manual_seed(0)
    assert_equivariant(enn.AvgPool2d(D4.regular(1), 3, 2, 1, divisor_override=2), size=9, baseline=None)
    with pytest.raises(ValueError, match="`divisor_override` must be >= 1, got 0"):
        enn.AvgPool2d(C4.regular(1), 2, divisor_override=0)
    with pytest.raises(TypeError, match=r"`divisor_override` must be an int, got float \(2.0\)"):
        enn.AvgPool2d(C4.regular(1), 2, divisor_override=2.0)


@pytest.mark.parametrize("inplace", [False, True])
def test_field_dropout_p_one_drops_everything_as_torch_dropout2d(inplace):
    drop = enn.FieldDropout(TRIV.trivial(3), p=1.0, inplace=inplace)
    ref = nn.Dropout2d(1.0)
    x = torch.randn(2, 3, 4, 4)
    x[0, 0, 0, 0] = float("nan")  # times zero, as torch: NaN stays NaN
    expected = ref(x.clone())
    assert torch.allclose(drop(x.clone()), expected, equal_nan=True)
    assert torch.allclose(drop.export()(x.clone()), expected, equal_nan=True)
    assert repr(drop) == f"FieldDropout(Trivial().trivial(3), p=1.0{', inplace=True' if inplace else ''})"
    drop.eval()
    assert drop(x) is x
    regular = enn.FieldDropout(C4.regular(2), p=1)
    assert torch.equal(regular(torch.ones(1, 8, 3, 3)), torch.zeros(1, 8, 3, 3))
