"""receptive_field: analytic walk of the module tree, and the empirical fallback."""

import pytest
import torch
from torch import nn

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import receptive_field


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.b(torch.relu(self.a(x)))


class Dilated(nn.Module):  # unknown to the walk: measured
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=2, dilation=2)

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize(
    ("net", "expected"),
    [
        (nn.Conv2d(1, 1, 3), ((3, 3), (1, 1), (0, 0))),
        (nn.Conv2d(1, 1, 3, padding="same", dilation=2), ((5, 5), (1, 1), (2, 2))),
        (nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)), ((4, 4), (2, 2), (1, 1))),
        (
            nn.Sequential(nn.Conv2d(1, 2, 5, stride=2, padding=2), nn.BatchNorm2d(2), nn.AvgPool2d(3, 1, 1)),
            ((9, 9), (2, 2), (4, 4)),
        ),
        (nn.Conv2d(1, 1, (3, 5), padding=(1, 2)), ((3, 5), (1, 1), (1, 2))),
    ],
)
def test_analytic(net, expected):
    rf = receptive_field(net)
    assert (rf.size, rf.stride, rf.padding) == expected
    assert rf.method == "analytic"


def test_eqcnn_conv_is_read_from_its_attributes():
    G = eqcnn.Cyclic(4)
    net = nn.Sequential(
        enn.Conv2d(G.trivial(1), G.regular(1), 5, padding=2),
        nn.ReLU(),
        enn.Conv2d(G.regular(1), G.regular(1), 3, stride=2, padding=1, dilation=1),
    )
    rf = receptive_field(net)
    assert (rf.size, rf.stride, rf.padding, rf.method) == ((7, 7), (2, 2), (3, 3), "analytic")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Dilated(),
        lambda: nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), Residual(2), nn.MaxPool2d(2), Residual(2)),
    ],
)
def test_empirical_matches_analytic_equivalent(make):
    torch.manual_seed(0)
    net = make()
    rf = receptive_field(net, (1, 2, 40, 40))
    assert rf.method in ("empirical", "mixed")
    if isinstance(net, Dilated):
        assert (rf.size, rf.stride, rf.padding) == ((5, 5), (1, 1), (2, 2))
    else:
        # conv 3 + residual (two 3x3) = 7; pool 2 -> 8, stride 2; residual at stride 2 -> 8 + 4 * 2
        assert (rf.size, rf.stride, rf.padding) == ((16, 16), (2, 2), (7, 7))


def test_global_output():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    rf = receptive_field(net)
    assert rf.is_global and "global" in str(rf)


def test_empirical_default_shape_needs_channels():
    class Opaque(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match="cannot tell how many input channels"):
        receptive_field(Opaque())
    rf = receptive_field(Opaque(), (1, 1, 9, 9))
    assert (rf.size, rf.stride, rf.padding) == ((1, 1), (1, 1), (0, 0))


R = eqcnn.Cyclic(4).regular(2)


class Resize(nn.Module):  # a functional resize to a set size: invisible to the module walk
    def forward(self, x):
        return nn.functional.interpolate(x, size=(7, 7), mode="bilinear")


class OneSize(nn.Module):  # runs at 15x15 only: the skip connection needs the set size back
    def forward(self, x):
        return torch.cat([x, nn.functional.interpolate(x[..., ::2, ::2], size=(15, 15), mode="bilinear")], 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: enn.AdaptiveAvgPool2d(R, 2),
        lambda: enn.AdaptiveMaxPool2d(R, 3),
        lambda: enn.AdaptiveAvgPool2d(eqcnn.Dihedral(2).regular(2), (1, 3)),  # C4 refuses non-square outputs
        lambda: enn.Upsample(R, size=13, mode="bilinear"),
        lambda: nn.AdaptiveAvgPool2d(2),
        lambda: nn.AdaptiveMaxPool2d((None, 3)),
        lambda: nn.Upsample(size=13),
        lambda: nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.AdaptiveAvgPool2d(4), nn.Conv2d(8, 8, 3)),
        lambda: nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), Residual(8), nn.Sequential(nn.Upsample(size=9))),
    ],
)
def test_fixed_output_size_is_a_fixed_grid_not_a_stride(make):
    rf = receptive_field(make(), (1, 8, 17, 17))
    assert rf.is_fixed_grid and not rf.is_global
    assert rf.method in ("analytic", "mixed")
    assert str(rf) == f"fixed output grid: the output size does not follow the input ({rf.method})"


class Wrapper(nn.Module):  # unknown to the walk, but holds a layer with a fixed output size
    def __init__(self):
        super().__init__()
        self.conv, self.up = nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.Upsample(size=17, mode="bilinear")

    def forward(self, x):
        return x + self.up(self.conv(x))


def test_fixed_grid_found_inside_a_custom_module_without_running_it():
    rf = receptive_field(Wrapper())  # no input shape needed: the layer is found in the module tree
    assert rf.is_fixed_grid and rf.method == "analytic"


@pytest.mark.parametrize(
    ("make", "shape"), [(Resize, (1, 8, 17, 17)), (OneSize, (1, 8, 15, 15))], ids=["resize", "one-size"]
)
def test_fixed_grid_measured_when_the_output_does_not_grow_with_the_input(make, shape):
    rf = receptive_field(make(), shape)
    assert rf.is_fixed_grid and rf.method == "empirical"


@pytest.mark.parametrize(
    "make",
    [lambda: enn.AdaptiveAvgPool2d(R, 1), lambda: enn.AdaptiveMaxPool2d(R, 1), lambda: nn.AdaptiveAvgPool2d((1, 1))],
)
def test_pooling_to_one_pixel_is_global(make):
    rf = receptive_field(make(), (1, 8, 17, 17))
    assert rf.is_global and not rf.is_fixed_grid


def test_grids_that_follow_the_input_are_not_fixed():
    assert receptive_field(nn.AdaptiveAvgPool2d((None, None))) == receptive_field(nn.Identity())
    up = receptive_field(nn.Upsample(scale_factor=2), (1, 1, 9, 9))
    assert up.is_upsampling and not up.is_fixed_grid
    rf = receptive_field(nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), Residual(2), nn.MaxPool2d(2)), (1, 2, 20, 20))
    assert rf.method == "mixed" and not rf.is_fixed_grid and rf.stride == (2, 2)


G8 = eqcnn.Cyclic(8)
T = G8.regular(2)
GATED = enn.GatedNonlinearity.input_type(G8.irreps_field(1, multiplicity=2))


@pytest.mark.parametrize(
    ("make", "t_in"),
    [
        (lambda: enn.ReLU(T, inplace=True), T),
        (lambda: enn.ELU(T, inplace=True), T),
        (lambda: enn.LeakyReLU(T, inplace=True), T),
        (lambda: enn.SiLU(T, inplace=True), T),
        (lambda: enn.GELU(T), T),
        (lambda: enn.Sigmoid(T), T),
        (lambda: enn.Tanh(T), T),
        (lambda: enn.PointwiseNonlinearity(T, nn.Softplus()), T),
        (lambda: enn.NormNonlinearity(T), T),
        (lambda: enn.GatedNonlinearity(GATED), GATED),
        (lambda: enn.GroupPool(T), T),
        (lambda: enn.FieldDropout(T, p=0.5, inplace=True), T),
        (lambda: enn.BatchNorm2d(T), T),
        (lambda: enn.Identity(T), T),
        (lambda: enn.export(enn.NormNonlinearity(T)), T),
        (lambda: enn.export(enn.GatedNonlinearity(GATED)), GATED),
        (lambda: enn.export(enn.GroupPool(T)), T),
        (lambda: enn.export(enn.FieldDropout(T)), T),
    ],
)
def test_eqcnn_per_pixel_layers_are_read_from_the_tree(make, t_in):
    net = nn.Sequential(enn.Conv2d(G8.trivial(1), t_in, 3, padding=1), make())
    rf = receptive_field(net)  # no input shape: nothing is measured
    assert (rf.size, rf.stride, rf.padding, rf.method) == ((3, 3), (1, 1), (1, 1), "analytic")


@pytest.mark.parametrize("make", [lambda: enn.BatchNorm2d(T, track_running_stats=False),
                                  lambda: nn.BatchNorm2d(16, track_running_stats=False)])  # fmt: skip
def test_batch_norm_with_batch_statistics_is_not_per_pixel(make):
    # in eval mode it normalises by the statistics of the whole image: every output sees every pixel
    rf = receptive_field(make(), (2, 16, 9, 9))
    assert rf.method == "empirical" and rf.size == (9, 9)


class InPlaceFirst(nn.Module):  # unknown to the walk, and writes into its input
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return self.conv(x.relu_())


def test_empirical_probe_feeds_a_copy_to_in_place_layers():
    # the probe differentiates by a leaf tensor, which an in-place layer may not write into
    rf = receptive_field(InPlaceFirst(), (1, 2, 15, 15))
    assert (rf.size, rf.stride, rf.padding, rf.method) == ((3, 3), (1, 1), (1, 1), "empirical")


class Hidden(nn.Module):  # the same computation, invisible to the walk: measured
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize(
    "make",
    [
        lambda: enn.ResidualBlock(
            enn.Sequential(enn.Conv2d(T, T, 3, padding=1), enn.Conv2d(T, T, 5, stride=2, padding=2)),
            shortcut=enn.Conv2d(T, T, 1, stride=2),
        ),
        lambda: enn.ResidualBlock(enn.Conv2d(T, T, 3, padding=1), post=enn.ReLU(T, inplace=True)),
        lambda: enn.ResidualBlock(enn.Conv2d(T, T, 3, padding=2, dilation=2), shortcut=enn.Conv2d(T, T, 3, padding=1)),
        lambda: enn.export(enn.ResidualBlock(enn.Conv2d(T, T, 3, padding=1), shortcut=enn.Conv2d(T, T, 1))),
    ],
)
def test_residual_block_is_the_hull_of_its_branches(make):
    torch.manual_seed(0)
    block = make()
    rf = receptive_field(block)
    measured = receptive_field(Hidden(block), (1, T.size, 33, 33))
    assert rf.method == "analytic" and measured.method == "empirical"
    assert (rf.size, rf.stride, rf.padding) == (measured.size, measured.stride, measured.padding)


def test_blur_pool_is_read_from_its_attributes():
    rf = receptive_field(enn.BlurPool2d(T, stride=2, filter_size=5))
    assert (rf.size, rf.stride, rf.padding, rf.method) == ((5, 5), (2, 2), (2, 2), "analytic")


class _Step(nn.Module):
    def forward(self, x):
        return (x > 0).float()


def test_a_module_without_gradients_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"cannot measure the receptive field of _Step: its output has no gradient"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), _Step()), (1, 1, 9, 9))
