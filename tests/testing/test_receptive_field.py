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
