"""Conv2d's single-block expansion shortcut (added for speed, issue #5) computes what the general path computes.

Lives here with the performance work; it needs no escnn.
"""

import pytest
import torch

import eqcnn
from eqcnn import nn as enn

CASES = [
    (eqcnn.Cyclic(8).regular(2), eqcnn.Cyclic(8).regular(3)),
    (eqcnn.Cyclic(4).trivial(3), eqcnn.Cyclic(4).regular(2)),
    (eqcnn.Dihedral(4).regular(1), eqcnn.Dihedral(4).trivial(2)),
    (eqcnn.Cyclic(8).irreps_field(1, multiplicity=2), eqcnn.Cyclic(8).irreps_field(2, multiplicity=3)),
]


@pytest.mark.parametrize("types", CASES, ids=lambda t: f"{t[0]!r}->{t[1]!r}")
def test_single_block_shortcut_matches_general_path(types):
    tin, tout = types
    fast = enn.Conv2d(tin, tout, 5, padding=2)
    slow = enn.Conv2d(tin, tout, 5, padding=2)
    if fast.bias is not None:
        with torch.no_grad():
            fast.bias.normal_()  # a non-zero bias, so its expansion is checked too
    slow.load_state_dict(fast.state_dict())
    slow._bank.single = None  # force the per-block loop
    f1, b1 = fast.expand_parameters()
    f2, b2 = slow.expand_parameters()
    assert fast._bank.single is not None, "the shortcut should apply to one representation in, one out"
    assert torch.equal(f1, f2)
    assert (b1 is None and b2 is None) or torch.equal(b1, b2)
    x = torch.randn(2, tin.size, 9, 9)
    fast(x).square().sum().backward()
    slow(x).square().sum().backward()
    torch.testing.assert_close(fast.weight.grad, slow.weight.grad, rtol=1e-6, atol=1e-6)


def test_mixed_types_take_the_general_path():
    G = eqcnn.Cyclic(4)
    conv = enn.Conv2d(G.trivial(1) + G.regular(1), G.regular(2), 3, padding=1)
    assert conv._bank.single is None
