"""Where a comparison is valid: away from the borders that padding touches, inside a disk for rotations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .._checks import check_int, check_number, describe
from ._receptive_field import ReceptiveField

__all__ = ["disk_mask", "soft_disk", "valid_mask"]


def _hw(size: Sequence[int] | int, name: str = "size") -> tuple[int, int]:
    if isinstance(size, (str, bytes, bool)) or not (isinstance(size, int) or hasattr(size, "__iter__")):
        raise TypeError(f"`{name}` must be an int or a sequence of ints ending with (H, W), got {describe(size)}")
    if isinstance(size, int):
        return check_int(name, size, minimum=1), check_int(name, size, minimum=1)
    size = tuple(size)
    if len(size) < 2:
        raise ValueError(f"`{name}` must be an int or end with (H, W), got {size}")
    return check_int(name, size[-2], minimum=1), check_int(name, size[-1], minimum=1)


def _radius_grid(H: int, W: int, device: Any) -> torch.Tensor:
    i = torch.arange(H, dtype=torch.float64, device=device)[:, None] - (H - 1) / 2
    j = torch.arange(W, dtype=torch.float64, device=device)[None, :] - (W - 1) / 2
    return torch.sqrt(i**2 + j**2)


def disk_mask(
    size: Sequence[int] | int, radius: float | None = None, margin: float = 0.0, device: Any = None
) -> torch.Tensor:
    """Boolean ``(H, W)`` mask of the pixels within ``radius`` of the image centre.

    ``radius`` defaults to the inscribed circle, ``(min(H, W) - 1) / 2``, and
    ``margin`` pixels are taken off it.  A rotation about the centre maps the
    disk onto itself, so errors are compared inside it.

    Example:
        >>> from eqcnn.testing import disk_mask
        >>> disk_mask(5).int()
        tensor([[0, 0, 1, 0, 0],
                [0, 1, 1, 1, 0],
                [1, 1, 1, 1, 1],
                [0, 1, 1, 1, 0],
                [0, 0, 1, 0, 0]], dtype=torch.int32)
    """
    H, W = _hw(size)
    r = (min(H, W) - 1) / 2 if radius is None else check_number("radius", radius, minimum=0)
    margin = check_number("margin", margin)
    return _radius_grid(H, W, device) <= r - margin + 1e-9


def soft_disk(size: Sequence[int] | int, width: float | None = None, device: Any = None) -> torch.Tensor:
    """A ``(H, W)`` window: 1 inside the inscribed disk, falling to 0 at its edge over ``width`` pixels (cosine).

    Multiplying an input by it leaves nothing near the corners for an off-grid
    rotation to cut off.
    """
    H, W = _hw(size)
    R = (min(H, W) - 1) / 2
    if width is not None and check_number("width", width) <= 0:
        raise ValueError(f"`width` must be a positive number of pixels, got {width!r}")
    w = max(2.0, 0.2 * R) if width is None else float(width)
    r = _radius_grid(H, W, device)
    t = ((r - (R - w)) / w).clamp(0, 1)
    return 0.5 * (1 + torch.cos(torch.pi * t))


def valid_mask(rf: ReceptiveField, input_size: Sequence[int] | int, output_size: Sequence[int] | int) -> torch.Tensor:
    """Boolean ``(H', W')`` mask of the output pixels whose receptive field lies inside the input.

    Those pixels never see padding, so a shift (which moves content across the
    border) leaves them exactly comparable.  An output pixel ``i`` is valid when
    ``0 <= i * stride - padding`` and ``i * stride - padding + size <= H``.

    Example:
        >>> from torch import nn
        >>> from eqcnn.testing import receptive_field, valid_mask
        >>> rf = receptive_field(nn.Conv2d(1, 1, 3, padding=1))
        >>> valid_mask(rf, 5, 5).int()
        tensor([[0, 0, 0, 0, 0],
                [0, 1, 1, 1, 0],
                [0, 1, 1, 1, 0],
                [0, 1, 1, 1, 0],
                [0, 0, 0, 0, 0]], dtype=torch.int32)
    """
    if not isinstance(rf, ReceptiveField):
        raise TypeError(f"`rf` must be a ReceptiveField (from receptive_field(model)), got {describe(rf)}")
    H, W = _hw(input_size, "input_size")
    Ho, Wo = _hw(output_size, "output_size")
    if rf.is_global:
        return torch.ones(Ho, Wo, dtype=torch.bool)
    axes = []
    for n_in, n_out, size, stride, pad in zip((H, W), (Ho, Wo), rf.size, rf.stride, rf.padding):
        start = torch.arange(n_out) * stride - pad
        axes.append((start >= 0) & (start + size <= n_in))
    return axes[0][:, None] & axes[1][None, :]
