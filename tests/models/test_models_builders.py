"""Model builders: Trivial() gives the ordinary network, options scale widths, features are invariant
at the sizes exact_input_sizes names."""

from __future__ import annotations

import pytest
import torch

import eqcnn
from eqcnn import nn as enn
from eqcnn.models import SFCNN, ResNet, basic_block, num_fields, resnet18, resnet34

# small kernels keep the kernel-basis computation (and the test run) short where the layout is not the point
SMALL = {"kernel_sizes": (5, 3, 3, 3, 3, 3), "width": 0.1}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_trivial_resnet18_has_torchvisions_parameter_count():
    assert n_params(resnet18(eqcnn.Trivial())) == 11_689_512  # torchvision.models.resnet18()


@pytest.mark.slow
def test_trivial_resnet34_has_torchvisions_parameter_count():
    assert n_params(resnet34(eqcnn.Trivial())) == 21_797_672  # torchvision.models.resnet34()


def test_trivial_sfcnn_is_an_ordinary_cnn():
    model = SFCNN(eqcnn.Trivial())
    convs = [m for m in model.modules() if isinstance(m, enn.Conv2d)]
    assert [c.out_type.size for c in convs] == [24, 32, 36, 36, 64, 96]
    assert [c.kernel_size[0] for c in convs] == [9, 7, 7, 7, 7, 5]
    assert all(c.bias is None for c in convs)  # convs before batch norm have no bias
    plain = enn.export(model)
    ref = [m for m in plain.modules() if isinstance(m, torch.nn.Conv2d) and m.groups == 1]
    assert [m.weight.shape[:2] for m in ref] == [(24, 1), (32, 24), (36, 32), (36, 36), (64, 36), (96, 64)]


@pytest.mark.parametrize(
    ("match", "fields"),
    [("fields", [24, 32, 36, 36, 64, 96]), ("channels", [6, 8, 9, 9, 16, 24]), ("params", [19, 25, 28, 28, 50, 72])],
)
def test_sfcnn_match_scales_fields(match, fields):
    model = SFCNN(eqcnn.Cyclic(4), match=match)
    convs = [m for m in model.modules() if isinstance(m, enn.Conv2d)]
    assert [len(c.out_type) for c in convs] == fields


@pytest.mark.parametrize("G", [eqcnn.Cyclic(4), eqcnn.Cyclic(8), eqcnn.Dihedral(4)], ids=repr)
@pytest.mark.parametrize("width", [0.25, 1.0])
def test_sfcnn_match_params_is_close_to_the_plain_parameter_count(G, width):
    plain = n_params(SFCNN(eqcnn.Trivial(), width=width))
    eq = n_params(SFCNN(G, width=width, match="params"))
    assert 0.8 < eq / plain < 1.25, (eq, plain)


def test_match_params_keeps_the_parameter_count_close():
    plain = n_params(ResNet(eqcnn.Trivial(), layers=(1, 1), widths=(32, 64), stem="cifar", stem_width=32))
    eq = n_params(ResNet(eqcnn.Cyclic(4), layers=(1, 1), widths=(32, 64), stem="cifar", stem_width=32, match="params"))
    assert 0.5 < eq / plain < 1.5
    chan = ResNet(eqcnn.Cyclic(4), layers=(1, 1), widths=(32, 64), stem="cifar", stem_width=32, match="channels")
    assert chan.fc.in_features == 16 and chan.stages[-1].out_type.size == 64


def test_num_fields_and_its_errors():
    assert num_fields(96, eqcnn.Dihedral(8), "channels") == 6
    assert num_fields(10, eqcnn.Cyclic(16), "channels") == 1  # at least one field
    assert num_fields(64, eqcnn.Cyclic(4), "fields", width=0.5) == 32
    with pytest.raises(ValueError, match="`match` must be one of 'fields', 'channels', 'params'"):
        num_fields(8, eqcnn.Cyclic(4), "weights")
    with pytest.raises(ValueError, match="`width` must be a positive number"):
        num_fields(8, eqcnn.Cyclic(4), width=0)


@pytest.mark.parametrize("group", [eqcnn.Cyclic(4), eqcnn.Dihedral(4)], ids=repr)
def test_sfcnn_is_invariant_at_exact_sizes_and_not_elsewhere(group):
    torch.manual_seed(0)
    model = SFCNN(group, **SMALL).eval()
    report = enn.exact_input_sizes(model, 28)
    assert not report.is_exact and report.nearest == ((25, 25), (29, 29))
    for size, exact in ((29, True), (28, False)):
        x = torch.randn(2, 1, size, size)
        y = model(x)
        generators = [g for g in group.elements if g.quarter_turns == 1 and not g.reflection]
        generators += [g for g in group.elements if g.reflection][:1]  # a 90-degree turn and a flip
        errs = [((model(group.trivial(1).transform(x, g)) - y).abs().max() / y.abs().max()).item() for g in generators]
        assert (max(errs) < 1e-5) == exact, (size, errs)


def test_resnet_is_invariant_at_exact_sizes():
    torch.manual_seed(0)
    G = eqcnn.Cyclic(4)
    model = ResNet(G, layers=(1, 1, 1), widths=(4, 8, 8), stem="cifar", stem_width=4, num_classes=5).eval()
    report = enn.exact_input_sizes(model, 16)
    assert report.nearest == ((13, 13), (17, 17))
    x = torch.randn(2, 3, 17, 17)
    y = model(x)
    assert ((model(torch.rot90(x, 1, (2, 3))) - y).abs().max() / y.abs().max()).item() < 1e-5


@pytest.mark.slow
def test_imagenet_resnet_exact_sizes_are_1_mod_32():
    report = enn.exact_input_sizes(resnet18(eqcnn.Trivial(), width=1 / 16), 224)
    assert not report.is_exact and report.nearest == ((193, 193), (225, 225))


def test_basic_block_shortcut_and_errors():
    G = eqcnn.Cyclic(4)
    assert basic_block(G.regular(2), G.regular(2)).shortcut is None
    assert isinstance(basic_block(G.regular(2), G.regular(2), stride=2).shortcut, enn.Sequential)
    with pytest.raises(TypeError, match="`group` must be an eqcnn group"):
        SFCNN(4)
    with pytest.raises(ValueError, match="`layers` and `widths` must be non-empty and of equal length"):
        ResNet(G, layers=(1, 1), widths=(8,))
    with pytest.raises(ValueError, match="`pool` must be one of 'blur', 'max'"):
        SFCNN(G, pool="avg")


def test_models_train_one_step():
    torch.manual_seed(0)
    model = SFCNN(eqcnn.Dihedral(4), num_classes=3, **SMALL)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 1, 17, 17), torch.tensor([0, 1, 2, 0])
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert all(p.grad is not None for p in model.parameters())
    assert torch.nn.functional.cross_entropy(model(x), y).item() != loss.item()
