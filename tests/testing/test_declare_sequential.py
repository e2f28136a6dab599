"""The harness reads an eqcnn Sequential that ends in plain modules as having an invariant output."""

import torch

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import band_limited_noise, equivariance_error


def test_sequential_ending_in_plain_modules_is_checked_as_invariant():
    G = eqcnn.Cyclic(8)
    net = enn.Sequential(
        enn.Conv2d(G.trivial(1), G.regular(2), 5, padding=2),
        enn.ReLU(G.regular(2)),
        enn.GroupPool(G.regular(2)),
        enn.AdaptiveAvgPool2d(G.trivial(2), 1),
        torch.nn.Flatten(),
        torch.nn.Linear(2, 10),
    )
    assert net.out_type is None
    x = band_limited_noise((2, 1, 17, 17))
    assert equivariance_error(net, x, 90.0).rel_l2 < 1e-5
    # a model whose logits are not invariant fails the same check
    leaky = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 5, padding=2), torch.nn.Flatten(), torch.nn.Linear(2 * 17 * 17, 10)
    )
    assert equivariance_error(leaky, x, 90.0, group=G, output="invariant").rel_l2 > 0.05


def test_plain_baseline_keeps_the_groups_of_a_trivial_grouped_conv():
    from eqcnn.testing import plain_baseline

    T = eqcnn.Trivial()
    net = enn.Sequential(enn.Conv2d(T.trivial(4), T.trivial(4), 3, padding=1, groups=4))
    base = plain_baseline(net)
    conv = next(m for m in base.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.groups == 4 and conv.weight.shape == (4, 1, 3, 3)


def test_plain_baseline_of_a_transposed_conv_is_a_plain_transposed_conv():
    from eqcnn.testing import assert_equivariant, plain_baseline

    G = eqcnn.Cyclic(8)
    up = enn.ConvTranspose2d(G.regular(2), G.regular(1), 3, stride=2, padding=1, output_padding=1)
    base = plain_baseline(up)
    assert isinstance(base, torch.nn.ConvTranspose2d) and base.weight.shape == (16, 8, 3, 3)
    assert (base.stride, base.padding, base.output_padding) == ((2, 2), (1, 1), (1, 1))
    x = torch.randn(1, 16, 9, 9)
    assert base(x).shape == up(x).shape == (1, 8, 18, 18)
    # the harness can now judge 45 degrees in a model with a transposed conv against its baseline
    net = enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 5, padding=2), enn.ELU(G.regular(2)))
    net.append(enn.ConvTranspose2d(G.regular(2), G.regular(2), 3, padding=1))
    report = assert_equivariant(net, size=21)
    rot45 = {r.transform: r for r in report.rows}["rot 45 deg"]
    assert rot45.kind == "approx" and rot45.baseline is not None and rot45.baseline > 2 * rot45.rel_l2


def test_plain_baseline_keeps_torch_same_padding_of_an_even_kernel():
    from eqcnn.testing import plain_baseline

    T = eqcnn.Trivial()
    conv = enn.Conv2d(T.trivial(2), T.trivial(3), 4, padding="same")
    base = plain_baseline(conv)
    x = torch.randn(1, 2, 7, 8)
    assert base.padding == "same" and base(x).shape == conv(x).shape == (1, 3, 7, 8)


def test_plain_baseline_redraws_the_weights_of_a_plain_transposed_conv():
    from eqcnn.testing import plain_baseline

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.ConvTranspose2d(2, 3, 3, stride=2))
    base = plain_baseline(net)
    assert not torch.equal(base[0].weight, net[0].weight)
    std = base[0].weight.std().item()  # He: 2 / (in * k * k / stride^2) = 2 / 4.5
    assert 0.45 < std < 0.9, std
