"""Sequential and ResidualBlock: type checks at build time with messages that name modules and types."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import assert_equivariant

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


def _net() -> enn.Sequential:
    r = G.regular(2)
    return enn.Sequential(
        enn.Conv2d(G.trivial(1), r, 3),
        nn.ReLU(),
        enn.Conv2d(r, r, 3),
        enn.GroupPool(r),
        enn.AdaptiveAvgPool2d(G.trivial(2), 1),
        nn.Flatten(),
        nn.Linear(2, 3),
    )


def test_sequential_slice_starting_at_a_plain_module_takes_the_type_that_feeds_it():
    torch.manual_seed(0)
    net = _net()
    tail = net[1:3]
    assert isinstance(tail, enn.Sequential) and list(tail._modules) == ["1", "2"]  # torch's names
    assert tail.in_type == G.regular(2) and tail.out_type == G.regular(2)
    assert repr(tail).splitlines()[1] == "  in_type=Cyclic(4).regular(2)"
    x = torch.randn(2, 1, 11, 11)
    assert torch.equal(net[1:](net[0](x)), net(x))
    copied = pickle.loads(pickle.dumps(tail))
    assert copied.in_type == G.regular(2) and torch.equal(copied(net[0](x)), tail(net[0](x)))
    assert net[5:].in_type == G.trivial(2) and net[5:].out_type is None  # Flatten after the pooled fields
    assert_equivariant(tail, size=13, baseline=None)
    assert_equivariant(net[1:5], size=13, shifts=[], baseline=None)  # invariant: the pooled fields


def test_sequential_slices_without_a_type_are_plain_torch_sequentials():
    net = _net()
    head = net[6:]  # the Linear after Flatten sees untyped (invariant) features
    assert type(head) is nn.Sequential and isinstance(head[0], nn.Linear)
    assert type(net[9:]) is nn.Sequential and len(net[9:]) == 0  # as torch: an empty slice
    assert isinstance(net[:2], enn.Sequential) and net[:2].in_type == G.trivial(1)
    with pytest.raises(TypeError, match=r"module 4 \(AdaptiveAvgPool2d\) expects .* but module 2 \(Conv2d\) produces"):
        net[::2]  # the types of every other module do not chain


def test_sequential_in_type_keyword_types_a_leading_plain_module():
    r = G.regular(2)
    net = enn.Sequential(nn.ReLU(), enn.Conv2d(r, r, 3), in_type=r)
    assert net.in_type == r and net.out_type == r
    assert net(torch.randn(1, 8, 5, 5)).shape == (1, 8, 3, 3)
    with pytest.raises(
        TypeError,
        match=r"module 0 \(Conv2d\) expects in_type Cyclic\(4\).regular\(2\) but the "
        r"Sequential's `in_type` is Cyclic\(4\).regular\(3\)",
    ):
        enn.Sequential(enn.Conv2d(r, r, 3), in_type=G.regular(3))
    with pytest.raises(
        TypeError,
        match=r"module 0 \(Flatten\) is a plain torch module, but the Sequential's "
        r"`in_type` is Cyclic\(4\).regular\(2\), which is not invariant",
    ):
        enn.Sequential(nn.Flatten(), in_type=r)
    with pytest.raises(TypeError, match="`in_type` must be an eqcnn FieldType"):
        enn.Sequential(nn.ReLU(), in_type=8)
    with pytest.raises(
        TypeError, match=r"must be an eqcnn module with an `in_type`, or the Sequential needs `in_type=`"
    ):
        enn.Sequential(nn.ReLU(), enn.Conv2d(r, r, 3))


def test_sequential_failed_edits_change_nothing():
    r = G.regular(2)
    one = enn.Sequential(enn.Conv2d(r, r, 3, padding=1))
    for edit in (lambda: one.__delitem__(0), lambda: one.pop(0), lambda: one.__delitem__(slice(None))):
        with pytest.raises(ValueError, match="Sequential needs at least one module"):
            edit()
        assert len(one) == 1 and one.in_type == r and one.out_type == r
    net = enn.Sequential(enn.Conv2d(G.trivial(1), r, 3), nn.ReLU(), enn.Conv2d(r, r, 3))
    before = list(net)
    with pytest.raises(TypeError, match=r"the first module \(0: ReLU\) must be an eqcnn module"):
        del net[0]  # would leave a plain module first (renumbered, as torch does)
    with pytest.raises(TypeError, match=r"module 3 \(Conv2d\) expects in_type"):
        net += enn.Sequential(enn.Conv2d(G.trivial(1), r, 3))
    with pytest.raises(TypeError, match=r"module 3 \(Conv2d\) expects in_type Cyclic\(4\).trivial\(1\)"):
        net *= 2
    with pytest.raises(IndexError):
        net.insert(7, nn.ReLU())
    assert list(net) == before and net.out_type == r
    assert net.pop(2) is before[2] and net.out_type == r and len(net) == 2
    net += enn.Sequential(enn.Conv2d(r, G.regular(1), 3))
    assert net.out_type == G.regular(1) and len(net) == 3


def test_sequential_sums_and_products_are_checked_sequentials():
    r = G.regular(2)
    block = enn.Sequential(enn.Conv2d(r, r, 3, padding=1), enn.ReLU(r))
    twice = block * 2
    assert isinstance(twice, enn.Sequential) and len(twice) == 4 and twice.out_type == r
    assert isinstance(2 * block, enn.Sequential)
    joined = enn.Sequential(enn.Conv2d(G.trivial(1), r, 3)) + block
    assert isinstance(joined, enn.Sequential) and joined.in_type == G.trivial(1) and len(joined) == 3
    with pytest.raises(TypeError, match=r"module 3 \(Conv2d\) expects in_type Cyclic\(4\).trivial\(1\)"):
        joined * 2


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
