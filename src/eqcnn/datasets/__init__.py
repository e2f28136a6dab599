"""Data sets bundled with eqcnn: real MNIST digits, upright or rotated, with no download.

See ``docs/datasets.md`` and ``eqcnn/datasets/data/NOTICE.md`` for the source
and licence (MNIST, CC BY-SA 3.0).
"""

from ._digits import DIGITS_SIZE, load_digits, rotate_digits

__all__ = ["DIGITS_SIZE", "load_digits", "rotate_digits"]
