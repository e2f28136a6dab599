"""Transforms, inputs and masks of the harness."""

import pytest
import torch

import eqcnn
from eqcnn.testing import (
    Rotation,
    Shift,
    band_limited_noise,
    disk_mask,
    natural_image,
    receptive_field,
    rotate,
    shift,
    soft_disk,
    valid_mask,
)
from eqcnn.testing._transforms import NotComparable, act, as_transform


def test_shift_circular_is_roll_and_zeros_drops_pixels():
    x = torch.arange(12.0).view(1, 3, 4)
    assert torch.equal(shift(x, 1, -1), torch.roll(x, (1, -1), dims=(-2, -1)))
    z = shift(x, 1, 2, mode="zeros")
    assert torch.equal(z[0, 1:, 2:], x[0, :-1, :-2])
    assert z[0, 0].abs().sum() == 0 and z[0, :, :2].abs().sum() == 0
    assert shift(x, 5, 0, mode="zeros").abs().sum() == 0
    with pytest.raises(ValueError, match="`mode` must be one of"):
        shift(x, 1, 1, mode="wrap")


def test_rotate_exact_on_grid_and_close_off_grid():
    x = band_limited_noise((1, 2, 15, 15), sigma=2.0)
    assert torch.equal(rotate(x, 90), torch.rot90(x, 1, dims=(-2, -1)))
    assert torch.equal(rotate(x, -90), torch.rot90(x, 3, dims=(-2, -1)))
    assert torch.equal(rotate(x, 0, reflection=True), torch.flip(x, dims=[-1]))
    # two 45-degree turns approximate one 90-degree turn inside the disk
    w = x * soft_disk(15)
    twice = rotate(rotate(w, 45), 45)
    m = disk_mask(15, margin=2)
    err = (twice - rotate(w, 90))[..., m].norm() / w[..., m].norm()
    assert err < 0.05


def test_transform_normalisation():
    C8 = eqcnn.Cyclic(8)
    assert as_transform(45.0, C8) == C8.elements[1]
    assert as_transform(30.0, C8) == Rotation(30.0)
    assert as_transform((2, -1), C8) == Shift(2, -1)
    assert as_transform(Rotation(90, reflection=True), eqcnn.Dihedral(4)) == eqcnn.Dihedral(4).element(1, True)
    assert as_transform(Rotation(90, reflection=True), eqcnn.Cyclic(4)) == Rotation(90, True)
    with pytest.raises(ValueError, match="must be an element of Cyclic\\(8\\)"):
        as_transform(eqcnn.Cyclic(4).elements[1], C8)
    with pytest.raises(TypeError, match="`g` must be"):
        as_transform("90", C8)


def test_off_group_rotation_needs_scalar_fields():
    C4 = eqcnn.Cyclic(4)
    x = torch.randn(1, 4, 9, 9)
    with pytest.raises(NotComparable, match="can only act on scalar fields"):
        act(Rotation(45), x, C4.regular(1))
    assert act(Rotation(45), x, C4.trivial(4)).shape == x.shape
    # a (B, C) output only has its fibres transformed
    v = torch.randn(2, 4)
    assert torch.equal(act(C4.elements[1], v, C4.regular(1)), torch.roll(v, 1, dims=1))


def test_band_limited_noise_is_deterministic_normalised_and_smooth():
    a = band_limited_noise((2, 3, 20, 20), seed=3)
    b = band_limited_noise((2, 3, 20, 20), seed=3, dtype=torch.float64)
    assert torch.allclose(a.double(), b, atol=1e-6)
    assert not torch.equal(a, band_limited_noise((2, 3, 20, 20), seed=4))
    assert torch.allclose(a.std(dim=(-2, -1)), torch.ones(2, 3), atol=1e-5)
    assert a.mean(dim=(-2, -1)).abs().max() > 1e-3  # global averages are not zero
    # smoothing: neighbouring pixels are strongly correlated, unlike white noise
    corr = (a[..., 1:, :] * a[..., :-1, :]).mean()
    white = band_limited_noise((2, 3, 20, 20), sigma=0, seed=3)
    assert corr > 0.7 and (white[..., 1:, :] * white[..., :-1, :]).mean().abs() < 0.2
    with pytest.raises(ValueError, match="`sigma` must be a finite number >= 0"):
        band_limited_noise(8, sigma=-1)


def test_natural_image():
    img = natural_image(40, seed=1)
    assert img.shape == (3, 40, 40) and img.min() >= 0 and img.max() <= 1
    assert img.std() > 0.05  # not flat
    assert torch.equal(img, natural_image(40, seed=1))
    assert natural_image((20, 30), channels=1).shape == (1, 20, 30)
    assert natural_image(16, channels=5).shape == (5, 16, 16)


def test_disk_mask():
    m = disk_mask(7)
    assert m[3, 0] and m[3, 6] and not m[0, 0]
    assert disk_mask(7, margin=1).sum() < m.sum()
    assert disk_mask((6, 8)).shape == (6, 8)
    # a disk is mapped onto itself by rotations
    assert torch.equal(torch.rot90(disk_mask(8), 1), disk_mask(8))


def test_valid_mask_from_receptive_field():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 5, padding=2), torch.nn.Conv2d(1, 1, 3, stride=2, padding=1))
    rf = receptive_field(net)
    assert (rf.size, rf.stride, rf.padding) == ((7, 7), (2, 2), (3, 3))
    m = valid_mask(rf, 15, 8)
    # output i sees input rows 2i - 3 ... 2i + 3
    assert m[:, 4].tolist() == [False, False, True, True, True, True, False, False]
