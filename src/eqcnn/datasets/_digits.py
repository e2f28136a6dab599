"""Real handwritten digits, upright or rotated, bundled with eqcnn (no download).

5,000 MNIST digits (CC BY-SA 3.0; see ``data/NOTICE.md``), split 4,000 train /
1,000 test, stored as 28x28 uint8 and padded here to 29x29.

Why 29x29: an odd size has a centre pixel, so a turn by 90 degrees maps the
pixel grid onto itself about that pixel, and a stride-2 layer with an odd
kernel keeps the sampled grid symmetric (``(29 - 3) % 2 == 0``, ``(29 - 5) % 2
== 0``); on 28x28 a stride-2 3x3 layer samples a grid that is off-centre by half
a pixel, and its output no longer turns exactly with the input.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_choice, check_int
from ..fields import rotate_pixels

__all__ = ["DIGITS_SIZE", "load_digits", "rotate_digits"]

DIGITS_SIZE = 29
"""Side of the images :func:`load_digits` returns (28x28 MNIST digits padded to an odd size)."""

Split = Literal["train", "test"]


@lru_cache(maxsize=1)
def _arrays() -> dict[str, np.ndarray]:
    path = resources.files("eqcnn.datasets").joinpath("data/digits.npz")
    with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def rotate_digits(
    images: torch.Tensor,
    angles: torch.Tensor | float,
    interpolation: Literal["bilinear", "bicubic"] = "bicubic",
) -> torch.Tensor:
    """Rotate each image of ``images`` (``(N, C, H, W)``) counter-clockwise by ``angles`` (degrees).

    ``angles`` is one finite number or a tensor of ``N`` finite angles. Multiples of 90
    degrees move pixels exactly (square images); other angles resample with
    ``interpolation`` about the image centre (zero outside) with
    :func:`eqcnn.fields.rotate_pixels`, then clip to the input's range (bicubic
    resampling overshoots a little at sharp edges).

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 1, 29, 29); x[0, 0, 0, 14] = 1.0  # top middle pixel
        >>> rotate_digits(x, 90.0)[0, 0, 14, 0].item()  # now middle left
        1.0
    """
    check_choice("interpolation", interpolation, ("bilinear", "bicubic"))
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"`images` must be a tensor of shape (N, C, H, W), got {shape}")
    n = images.shape[0]
    if isinstance(angles, torch.Tensor):
        angle_list = angles.flatten().tolist()
    elif _is_number(angles):
        angle_list = [float(angles)] * n
    else:
        raise TypeError(f"`angles` must be a number or a tensor of angles in degrees, got {type(angles).__name__}")
    if len(angle_list) != n:
        raise ValueError(f"`angles` must hold one angle per image ({n}), got {len(angle_list)}")
    bad = [a for a in angle_list if not math.isfinite(a)]
    if bad:
        raise ValueError(f"`angles` must be finite angles in degrees, got {bad[0]!r}")
    if n == 0:
        return images.clone()
    lo, hi = images.min(), images.max()
    out = torch.stack(
        [rotate_pixels(img, math.radians(a), interpolation=interpolation) for img, a in zip(images, angle_list)]
    )
    return out.clamp_(lo, hi)


def load_digits(
    split: Split = "train",
    rotation: Literal["random"] | float | None = None,
    seed: int = 0,
    *,
    limit: int | None = None,
    interpolation: Literal["bilinear", "bicubic"] = "bicubic",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bundled MNIST digits as tensors: ``(images (N, 1, 29, 29) float32 in [0, 1], labels (N,) int64)``.

    Args:
        split: ``"train"`` (4,000 digits, 400 per class) or ``"test"`` (1,000,
            100 per class). The split is fixed; both are shuffled, so the
            classes are mixed along a split, but a short prefix can miss one:
            the first 63 training digits and the first 21 test digits are the
            shortest prefixes that hold all ten classes.
        rotation: ``None`` for upright digits; a finite number to turn every
            digit counter-clockwise by that many degrees; ``"random"`` to turn each
            digit by its own angle drawn uniformly from [0, 360) with ``seed``
            (the MNIST-rot protocol).
        seed: seed of the random angles (ignored unless ``rotation="random"``).
        limit: keep only the first ``limit`` digits (after the shuffle).
        interpolation: ``"bicubic"`` or ``"bilinear"`` resampling for angles
            that are not multiples of 90 degrees (those are exact).

    The digits are 28x28 MNIST images padded with one row of zeros at the
    bottom and one column at the right, so the image has a centre pixel (see
    the module docstring). No download: the data ships inside the package.
    Turns by multiples of 90 degrees lose nothing; other angles can move ink
    that lies farther than 14.5 px from the centre pixel off the image (82 of
    the 5,000 digits have some; see ``docs/datasets.md``).

    Example:
        >>> from eqcnn.datasets import load_digits
        >>> x, y = load_digits("test", rotation="random", seed=1, limit=8)
        >>> x.shape, x.dtype, y.dtype
        (torch.Size([8, 1, 29, 29]), torch.float32, torch.int64)
        >>> bool(x.min() >= 0) and bool(x.max() <= 1)
        True
    """
    check_choice("split", split, ("train", "test"))
    check_int("seed", seed)
    check_choice("interpolation", interpolation, ("bilinear", "bicubic"))
    if not (rotation is None or rotation == "random" or _is_number(rotation)):
        raise ValueError(f'`rotation` must be None, "random" or an angle in degrees, got {rotation!r}')
    if _is_number(rotation) and not math.isfinite(float(rotation)):  # type: ignore[arg-type]
        raise ValueError(f"`rotation` must be a finite angle in degrees, got {rotation!r}")
    arrays = _arrays()
    raw = arrays[f"{split}_images"]
    labels = arrays[f"{split}_labels"]
    if limit is not None:
        check_int("limit", limit, minimum=0)
        raw, labels = raw[:limit], labels[:limit]
    images = torch.from_numpy(raw.astype(np.float32) / 255.0)[:, None]
    images = F.pad(images, (0, DIGITS_SIZE - 28, 0, DIGITS_SIZE - 28))
    if rotation == "random":
        gen = torch.Generator().manual_seed(seed)
        angles = torch.rand(images.shape[0], generator=gen, dtype=torch.float64) * 360.0
        images = rotate_digits(images, angles, interpolation)
    elif rotation is not None:
        images = rotate_digits(images, float(rotation), interpolation)  # type: ignore[arg-type]
    return images.contiguous(), torch.from_numpy(labels.astype(np.int64))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
