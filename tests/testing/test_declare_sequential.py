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
