"""Per-layer attribution and the Lie derivative."""

import math

import pytest
import torch
from torch import nn

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import band_limited_noise, disk_mask, layerwise_errors, lie_derivative, rotate, warp_velocity

C4, C8 = eqcnn.Cyclic(4), eqcnn.Cyclic(8)


def _strided_net():
    return nn.Sequential(
        enn.Conv2d(C4.trivial(1), C4.regular(2), 3, padding=1), nn.ReLU(),
        enn.Conv2d(C4.regular(2), C4.regular(2), 3, stride=2, padding=1), nn.ReLU(),
        enn.Conv2d(C4.regular(2), C4.regular(1), 3, padding=1),
    )  # fmt: skip


def test_layerwise_points_at_the_stride_layer():
    errs = layerwise_errors(_strided_net(), size=16)
    names = [e.name for e in errs]
    assert names == ["0", "1", "2", "3", "4", "(output)"]
    assert errs.layers[0].rel_l2 < 1e-5 and errs.layers[1].rel_l2 < 1e-5
    assert errs.first_above(1e-5).name == "2"
    assert errs.layers[0].field_type == "Cyclic(4).regular(2)"
    assert errs.layers[-1].field_type == "Cyclic(4).regular(1)"
    text = str(errs)
    assert "error after each layer under rot 90 deg" in text and "Conv2d" in text
    # on an odd size the same model is exact everywhere
    assert layerwise_errors(_strided_net(), size=17).first_above(1e-5) is None


def test_layerwise_plain_model_off_grid_angle_and_shift():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, padding_mode="circular"),
        nn.ReLU(),
        nn.Conv2d(4, 2, 3, padding=1, padding_mode="circular"),
    )
    errs = layerwise_errors(net, g=45, size=17)
    assert errs.transform == "rot 45 deg" and all(e.rel_l2 > 1e-2 for e in errs)
    shifted = layerwise_errors(net, g=(2, 3), size=12)
    assert all(e.rel_l2 < 1e-6 for e in shifted)


def test_warp_velocity_is_the_derivative_of_a_small_rotation():
    x = band_limited_noise((1, 1, 21, 21), sigma=2.5, dtype=torch.float64)
    # the bicubic interpolant is C1 with jumps in its second derivative, so the
    # central difference converges linearly in t (measured: 4.6e-3 at 1e-3, 4.6e-5 at 1e-5)
    t = 1e-5
    fd = (rotate(x, math.degrees(t)) - rotate(x, -math.degrees(t))) / (2 * t)
    # warp_velocity rescales torch's bicubic slope (1.5 x the central difference) by 2/3
    v = warp_velocity(x, "rotation") * 1.5
    m = disk_mask(21, margin=3)
    assert (v - fd)[..., m].norm() / fd[..., m].norm() < 1e-3
    # translation right by one pixel: minus the horizontal central difference, exactly
    vx = warp_velocity(x, "translation_x")
    fdx = (torch.roll(x, 1, -1) - torch.roll(x, -1, -1)) / 2
    assert (vx - fdx)[..., 2:-2, 2:-2].norm() / fdx[..., 2:-2, 2:-2].norm() < 1e-12


def test_lie_derivative_zero_for_invariant_models_large_for_plain():
    x = band_limited_noise((1, 1, 25, 25), sigma=2.0)
    pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert lie_derivative(pool, x, output="invariant").relative < 1e-4
    # a linear conv commutes with translations exactly, away from the borders
    conv = nn.Conv2d(1, 3, 5, padding=2)
    for gen in ("translation_x", "translation_y"):
        assert lie_derivative(conv, x, gen, output="image").relative < 1e-5
    # an isotropic filter is nearly rotation-equivariant; a random one is not
    iso = nn.Conv2d(1, 1, 7, padding=3, bias=False)
    r = torch.arange(7.0) - 3
    with torch.no_grad():
        iso.weight.copy_(torch.exp(-(r[:, None] ** 2 + r[None] ** 2) / 4.5)[None, None])
    rnd = nn.Conv2d(1, 1, 7, padding=3, bias=False)
    assert lie_derivative(iso, x, output="image").relative < 0.1 < lie_derivative(rnd, x, output="image").relative


def test_lie_derivative_stride_and_types():
    x = band_limited_noise((1, 1, 25, 25), sigma=2.0)
    conv = enn.Conv2d(C8.trivial(1), C8.regular(1), 5, padding=2)
    assert lie_derivative(conv, x, "translation_y").relative < 1e-5
    with pytest.raises(ValueError, match="continuous rotations act on"):
        lie_derivative(conv, x, "rotation")
    lie = lie_derivative(conv, x, "translation_x")
    assert lie.value.shape == (1, 8, 25, 25)
    # a stride-2 conv aliases: its output cannot follow half-pixel shifts
    strided = nn.Conv2d(1, 1, 5, stride=2, padding=2)
    assert lie_derivative(strided, x, "translation_x", output="image").relative > 1e-3
    with pytest.raises(ValueError, match="`generator` must be one of"):
        lie_derivative(strided, x, "scale")


def test_layerwise_descends_into_eqcnn_containers():
    from eqcnn.models import SFCNN

    torch.manual_seed(0)
    model = SFCNN(C8, width=0.25)
    errs = layerwise_errors(model, g=45.0, size=33)
    names = [e.name for e in errs]
    assert names == [f"features.{i}" for i in range(22)] + [f"head.{i}" for i in range(6)] + ["(output)"]
    assert errs.layers[3].module == "Conv2d" and errs.layers[3].field_type == "Cyclic(8).regular(8)"
    # the pooled 1x1 maps are compared whole (no disk): a number, not "the valid region is empty"
    pooled = errs.layers[21]
    assert pooled.module == "AdaptiveAvgPool2d" and pooled.shape == (1, 24, 1, 1) and pooled.rel_l2 is not None
    assert layerwise_errors(model, size=33).first_above(1e-5) is None  # 90 degrees: exact in every layer


def test_layerwise_rows_of_residual_blocks():
    t = C4.regular(2)
    stem = enn.Conv2d(C4.trivial(1), t, 3, padding=1)
    body = enn.Sequential(enn.Conv2d(t, t, 3, padding=1), enn.ReLU(t, inplace=True))
    # the block's own row is the sum, after its children's rows
    errs = layerwise_errors(enn.Sequential(stem, enn.ResidualBlock(body)), size=9)
    assert [(e.name, e.module) for e in errs] == [
        ("0", "Conv2d"), ("1.body.0", "Conv2d"), ("1.body.1", "ReLU"), ("1", "ResidualBlock"),
        ("(output)", "Sequential"),
    ]  # fmt: skip
    assert errs.first_above(1e-5) is None
    # with `post`, the block returns post's output: post's row shows it, once
    errs = layerwise_errors(enn.Sequential(stem, enn.ResidualBlock(body, post=enn.ELU(t))), size=9)
    assert [e.name for e in errs] == ["0", "1.body.0", "1.body.1", "1.post", "(output)"]


def test_layerwise_records_each_output_before_later_in_place_layers():
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 2, 3, padding=1)
    x = band_limited_noise((1, 1, 11, 11))
    errs = layerwise_errors(nn.Sequential(conv, nn.ReLU(inplace=True)), x, output="image")
    alone = layerwise_errors(conv, x, output="image").layers[-1].rel_l2
    # the ReLU writes into the conv's output: the conv's row must show the conv's own error
    assert errs.layers[0].rel_l2 == pytest.approx(alone, rel=1e-6)
    assert errs.layers[1].rel_l2 != pytest.approx(alone, rel=1e-3)


def test_layerwise_shifts_follow_each_layers_grid():
    t = C4.regular(1)
    circ = dict(padding=1, padding_mode="circular")
    net = nn.Sequential(
        enn.Conv2d(C4.trivial(1), t, 3, stride=2, **circ),  # stride 2
        enn.Conv2d(t, t, 3, **circ),
        enn.AdaptiveAvgPool2d(t, 4),  # a fixed output size
        enn.Upsample(t, scale_factor=2),
        enn.Conv2d(t, t, 3, **circ),
    )
    errs = layerwise_errors(net, g=(4, 2), size=16)
    assert errs.layers[0].rel_l2 < 1e-6 and errs.layers[1].rel_l2 < 1e-6  # shifted by (2, 1) at stride 2
    for e in errs.layers[2:]:  # from 16 to 4 pixels is not a stride of 4, and the upsampling after it neither
        assert e.rel_l2 is None and "fixed output size" in e.note
    up = nn.Sequential(nn.Conv2d(1, 2, 3, **circ), nn.Upsample(scale_factor=2), nn.Conv2d(2, 2, 3, **circ))
    errs = layerwise_errors(up, g=(2, 0), size=8, output="image")
    assert errs.layers[0].rel_l2 < 1e-6
    assert all(e.rel_l2 is None and "upsampling" in e.note for e in errs.layers[1:])
    glob = nn.Sequential(nn.Conv2d(1, 2, 3, **circ), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    errs = layerwise_errors(glob, g=(1, 3), size=9, output="invariant")
    assert [e.rel_l2 < 1e-6 for e in errs] == [True, True, True, True]  # global: unchanged by any shift


def test_lie_derivative_of_a_1x1_output_is_measured():
    torch.manual_seed(0)
    x = band_limited_noise((1, 1, 25, 25), sigma=2.0)
    net = nn.Sequential(nn.Conv2d(1, 2, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    lie = lie_derivative(net, x, output="image")  # 1x1 maps: nothing to move, compared whole (not an empty disk)
    assert lie.value.shape == (1, 2, 1, 1) and lie.relative > 1e-3


def test_in_place_first_layers_leave_the_input_alone():
    t = C4.regular(1)
    model = enn.Sequential(enn.ELU(t, inplace=True), enn.Conv2d(t, t, 3, padding=1))
    x = band_limited_noise((1, t.size, 13, 13), seed=2)
    before = x.clone()
    lie_derivative(model, x, "translation_x")
    assert torch.equal(x, before)
    errs = layerwise_errors(model, x)
    assert torch.equal(x, before) and errs.first_above(1e-5) is None
