"""Model builders: Trivial() gives the ordinary network, options scale widths, features are invariant
at the sizes exact_input_sizes names."""

from __future__ import annotations

import numpy as np
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


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"widths": (0,) * 6}, ValueError, r"`widths\[0\]` must be >= 1, got 0"),
        ({"widths": (24, 32, -3, 36, 64, 96)}, ValueError, r"`widths\[2\]` must be >= 1, got -3"),
        ({"widths": (1.5,) * 6}, TypeError, r"`widths\[0\]` must be an int, got float \(1.5\)"),
        ({"widths": 24}, TypeError, r"`widths` must be a sequence of ints, got int \(24\)"),
        ({"kernel_sizes": (5, 3, 3, 0, 3, 3)}, ValueError, r"`kernel_sizes\[3\]` must be >= 1, got 0"),
        ({"width": True}, ValueError, "`width` must be a positive number, got True"),
        ({"width": float("nan")}, ValueError, "`width` must be a positive number, got nan"),
        ({"width": float("inf")}, ValueError, "`width` must be a positive number, got inf"),
        ({"width": -1}, ValueError, "`width` must be a positive number, got -1"),
        ({"match": "weights"}, ValueError, "`match` must be one of 'fields', 'channels', 'params'; got 'weights'"),
        ({"dropout": 1.5}, ValueError, r"`dropout` must be a probability in \[0, 1\], got 1.5"),
        ({"dropout": -0.1}, ValueError, r"`dropout` must be a probability in \[0, 1\], got -0.1"),
    ],
)
def test_sfcnn_refuses_degenerate_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SFCNN(eqcnn.Cyclic(4), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"stem_width": 0}, ValueError, "`stem_width` must be >= 1, got 0"),
        ({"stem_width": -1}, ValueError, "`stem_width` must be >= 1, got -1"),
        ({"stem_width": 8.0}, TypeError, r"`stem_width` must be an int, got float \(8.0\)"),
        ({"widths": (8, 0)}, ValueError, r"`widths\[1\]` must be >= 1, got 0"),
        ({"layers": (1, 0)}, ValueError, r"`layers\[1\]` must be >= 1, got 0"),
        ({"width": True}, ValueError, "`width` must be a positive number, got True"),
        ({"width": 0}, ValueError, "`width` must be a positive number, got 0"),
    ],
)
def test_resnet_refuses_degenerate_arguments(kwargs, error, match):
    args = {"layers": (1, 1), "widths": (8, 8), "stem": "cifar", "stem_width": 8, **kwargs}
    with pytest.raises(error, match=match):
        ResNet(eqcnn.Cyclic(4), **args)


def test_num_fields_refuses_degenerate_arguments():
    G = eqcnn.Cyclic(4)
    with pytest.raises(ValueError, match="`channels` must be >= 1, got -64"):
        num_fields(-64, G)
    with pytest.raises(ValueError, match="`channels` must be >= 1, got 0"):
        num_fields(0, G)
    with pytest.raises(TypeError, match=r"`channels` must be an int, got float \(64.0\)"):
        num_fields(64.0, G)
    with pytest.raises(ValueError, match="`width` must be a positive number, got True"):
        num_fields(64, G, width=True)
    with pytest.raises(ValueError, match="`kernel_size` must be >= 1, got 0"):
        num_fields(64, G, "params", kernel_size=0)
    with pytest.raises(TypeError, match="`group` must be an eqcnn group"):
        num_fields(64, 4)
    assert num_fields(64, G, width=0.5) == num_fields(64, G, width=np.float32(0.5)) == 32


def test_num_fields_docstring_figures_hold():
    # the docstring's measured ratios: "fields" is about dim / k^2 (not order) times the ordinary parameters,
    # "channels" about dim / (order^2 k^2) (not 1 / order)
    from eqcnn.kernels import kernel_basis

    dims = {
        (G, k): kernel_basis(G.regular_representation, G.regular_representation, k).dim
        for G, k in ((eqcnn.Cyclic(4), 7), (eqcnn.Cyclic(8), 5))
    }
    assert list(dims.values()) == [80, 88]
    base = n_params(SFCNN(eqcnn.Trivial()))
    assert base == 433_522
    ratios = {
        (repr(G), m): round(n_params(SFCNN(G, match=m)) / base, 3)
        for G in (eqcnn.Cyclic(4), eqcnn.Cyclic(8))
        for m in ("fields", "channels")
    }
    assert ratios == {
        ("Cyclic(4)", "fields"): 1.661,
        ("Cyclic(4)", "channels"): 0.109,
        ("Cyclic(8)", "fields"): 3.304,
        ("Cyclic(8)", "channels"): 0.051,
    }


@pytest.mark.parametrize("model_kind", ["sfcnn", "resnet"])
def test_unbatched_input_gives_unbatched_logits(model_kind):
    torch.manual_seed(0)
    G = eqcnn.Cyclic(4)
    if model_kind == "sfcnn":
        model, x = SFCNN(G, **SMALL).eval(), torch.randn(1, 17, 17)
    else:
        model = ResNet(G, layers=(1,), widths=(4,), stem="cifar", stem_width=4, num_classes=5).eval()
        x = torch.randn(3, 17, 17)
    y = model(x)
    assert y.shape == (model.out_type.size,)
    torch.testing.assert_close(y, model(x[None])[0])
    with pytest.raises(ValueError, match=r"got 2 \(shape \(2, 17, 17\) read as unbatched \(C, H, W\)\)"):
        model(torch.randn(2, 17, 17))
    model.train()
    if model_kind == "sfcnn":  # as torch's BatchNorm1d does, the head refuses a batch of one in training mode
        with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
            model(x)
    else:
        assert model(x).shape == (5,)
