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
