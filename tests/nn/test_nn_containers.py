"""Sequential and ResidualBlock: type checks at build time with messages that name modules and types."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import eqcnn
from eqcnn import nn as enn

G = eqcnn.Cyclic(4)


def test_sequential_chains_types_and_names_both_modules_on_a_mismatch():
    net = enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 3), enn.ReLU(G.regular(2)))
    assert net.in_type == G.trivial(1) and net.out_type == G.regular(2)
    with pytest.raises(
        TypeError,
        match=r"module 1 \(ReLU\) expects in_type Cyclic\(4\).regular\(3\) but module 0 \(Conv2d\) "
        r"produces out_type Cyclic\(4\).regular\(2\)",
    ):
        enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 3), enn.ReLU(G.regular(3)))


def test_sequential_accepts_elementwise_torch_activations_on_regular_fields():
    net = enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 3), nn.ReLU(), enn.BatchNorm2d(G.regular(2)))
    assert net.out_type == G.regular(2)


def test_sequential_rejects_elementwise_torch_activations_on_irreps_fields():
    with pytest.raises(TypeError, match=r"module 1 \(ReLU\) is a plain torch module.*not invariant"):
        enn.Sequential(enn.Conv2d(G.trivial(1), G.irreps_field(1), 3), nn.ReLU())


def test_sequential_accepts_plain_modules_only_after_invariant_fields():
    with pytest.raises(TypeError, match=r"module 1 \(Flatten\) is a plain torch module.*use GroupPool first"):
        enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 3), nn.Flatten())
    net = enn.Sequential(
        enn.Conv2d(G.trivial(1), G.regular(2), 3),
        enn.GroupPool(G.regular(2)),
        enn.AdaptiveAvgPool2d(G.trivial(2), 1),
        nn.Flatten(),
        nn.Linear(2, 3),
    )
    assert net.out_type is None
    assert net(torch.randn(2, 1, 5, 5)).shape == (2, 3)
    with pytest.raises(TypeError, match=r"only an eqcnn module with trivial in_type may follow a plain module"):
        enn.Sequential(
            enn.Conv2d(G.trivial(1), G.trivial(2), 3), nn.Identity(), nn.Tanh(), nn.Dropout(), enn.ReLU(G.regular(1))
        )


def test_sequential_first_module_must_be_typed_and_append_is_checked():
    with pytest.raises(TypeError, match=r"the first module \(0: Flatten\) must be an eqcnn module"):
        enn.Sequential(nn.Flatten())
    net = enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 3))
    with pytest.raises(TypeError, match=r"module 1 \(ReLU\) expects in_type"):
        net.append(enn.ReLU(G.regular(5)))
    assert len(net) == 1  # the bad module was not kept
    net.append(enn.ReLU(G.regular(2)))
    assert len(net) == 2 and net.out_type == G.regular(2)
    with pytest.raises(TypeError, match=r"module 1 \(BatchNorm2d\) expects in_type Cyclic\(4\).regular\(3\)"):
        net.insert(1, enn.BatchNorm2d(G.regular(3)))
    with pytest.raises(TypeError, match=r"module 1 \(Tanh\) expects in_type"):
        net[1] = enn.Tanh(G.regular(1))
    assert [type(m).__name__ for m in net] == ["Conv2d", "ReLU"]  # failed edits were undone
    net.extend([enn.BatchNorm2d(G.regular(2))])
    del net[2]
    assert len(net) == 2


def test_sequential_checks_the_input_and_supports_indexing():
    net = enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 3), enn.ReLU(G.regular(2)))
    with pytest.raises(eqcnn._checks.ShapeError, match="input must have 1 channels"):
        net(torch.randn(1, 3, 5, 5))
    assert isinstance(net[1], enn.ReLU)
    assert isinstance(net[:1], enn.Sequential)


def test_residual_block_checks_the_sum():
    t = G.regular(2)
    with pytest.raises(TypeError, match=r"an identity shortcut needs body\.in_type == body\.out_type"):
        enn.ResidualBlock(enn.Conv2d(G.trivial(1), t, 3, padding=1))
    with pytest.raises(TypeError, match=r"shortcut \(Conv2d: .*\) must map the same types as body"):
        enn.ResidualBlock(enn.Conv2d(t, t, 3, padding=1), shortcut=enn.Conv2d(t, G.regular(3), 1))
    with pytest.raises(TypeError, match=r"post \(ReLU\) expects in_type Cyclic\(4\).regular\(3\)"):
        enn.ResidualBlock(enn.Conv2d(t, t, 3, padding=1), post=enn.ReLU(G.regular(3)))
    with pytest.raises(TypeError, match="`body` must be an eqcnn module"):
        enn.ResidualBlock(nn.Conv2d(8, 8, 3))
    block = enn.ResidualBlock(enn.Conv2d(t, t, 3, padding=1), post=enn.ReLU(t))
    x = torch.randn(1, 8, 5, 5)
    assert torch.allclose(block(x), torch.relu(block.body(x) + x))
