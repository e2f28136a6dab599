"""Transforms the harness tries: integer shifts, rotations by any angle, flips, group elements.

A transform acts on a model's input through its input field type and on the
output through the output field type.  Shifts act on the output scaled by
the model's total stride: a shift by ``s * k`` pixels of the input is a shift
by ``k`` of a stride-``s`` output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import torch

from .._checks import check_choice, check_int, check_number, check_tensor_arg, describe
from ..fields import FieldType, rotate_pixels
from ..groups import GroupElement, PointGroup

__all__ = ["Rotation", "Shift", "Transform", "as_transform", "rotate", "shift", "shifted_windows", "transform_name"]

ShiftMode = Literal["circular", "zeros"]


def shifted_windows(x: torch.Tensor, t: Shift) -> tuple[torch.Tensor, torch.Tensor]:
    """Two crops of ``x``, ``(H - |dy|) x (W - |dx|)``, the first one's content shifted by ``t`` from the
    second's (no pixel wraps around): ``model(second)`` moved by ``t`` (scaled by the model's grid)
    should equal ``model(first)`` away from the borders."""
    H, W = x.shape[-2:]
    ay, ax = abs(t.dy), abs(t.dx)
    r1 = slice(ay, H) if t.dy >= 0 else slice(0, H - ay)
    r2 = slice(0, H - ay) if t.dy >= 0 else slice(ay, H)
    c1 = slice(ax, W) if t.dx >= 0 else slice(0, W - ax)
    c2 = slice(0, W - ax) if t.dx >= 0 else slice(ax, W)
    return x[..., r1, c1], x[..., r2, c2]


def check_tiles(
    out_hw: tuple[int, int], in_hw: tuple[int, int], period: tuple[int, int], growth: tuple[int, int]
) -> None:
    """Raise ``NotComparable`` unless an output grid of ``growth`` pixels per ``period`` input pixels tiles the
    input (``H' p = H g`` per axis): only then is a rolled output the output of the rolled input (a stride
    ``s`` is ``period = s``, ``growth = 1``; a 2x upsampling after a 2x pool, ``period = growth = 2``)."""
    (ho, wo), (H, W) = out_hw, in_hw
    if (ho * period[0], wo * period[1]) != (H * growth[0], W * growth[1]):
        raise NotComparable(
            f"circular shifts need the output grid to tile the input: the output is {ho}x{wo} on {H}x{W}, not "
            f"{growth[0]}/{period[0]} x {growth[1]}/{period[1]} of it; use an input size that is a multiple of "
            f"{max(period)}"
        )


def shift(x: torch.Tensor, dy: int, dx: int, mode: ShiftMode = "circular") -> torch.Tensor:
    """Move the content of ``x`` (shape ``(..., H, W)``) down by ``dy`` and right by ``dx`` pixels.

    ``out[..., i, j] = x[..., i - dy, j - dx]``.  With ``mode="circular"`` the
    pixels leaving one side come back on the other (``torch.roll``); with
    ``mode="zeros"`` they are dropped and zeros come in.  Exact (a permutation
    or a selection of pixels).

    Example:
        >>> import torch
        >>> from eqcnn.testing import shift
        >>> shift(torch.arange(4.0).view(1, 4), 0, 1, mode="zeros")
        tensor([[0., 0., 1., 2.]])
    """
    check_tensor_arg("x", x, tuple(range(2, 9)), "(..., H, W)")
    dy, dx = check_int("dy", dy), check_int("dx", dx)
    check_choice("mode", mode, ("circular", "zeros"))
    if mode == "circular":
        return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    H, W = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dy) >= H or abs(dx) >= W:
        return out
    src_r = slice(max(0, -dy), H - max(0, dy))
    dst_r = slice(max(0, dy), H - max(0, -dy))
    src_c = slice(max(0, -dx), W - max(0, dx))
    dst_c = slice(max(0, dx), W - max(0, -dx))
    out[..., dst_r, dst_c] = x[..., src_r, src_c]
    return out


def rotate(x: torch.Tensor, degrees: float, reflection: bool = False, interpolation: str = "bicubic") -> torch.Tensor:
    """Rotate the pixels of ``x`` (shape ``(..., C, H, W)``) by ``degrees`` counter-clockwise about the centre.

    With ``reflection=True`` the image is first mirrored (``x -> -x``, i.e.
    ``torch.flip(x, dims=[-1])``).  Exact for multiples of 90 degrees
    (``torch.rot90``); other angles resample with ``interpolation`` and fill
    zeros outside the image.  Channels are not mixed: for feature fields use
    ``FieldType.transform``.

    Example:
        >>> import torch
        >>> from eqcnn.testing import rotate
        >>> x = torch.randn(1, 2, 5, 5)
        >>> torch.equal(rotate(x, 90), torch.rot90(x, 1, dims=(-2, -1)))
        True
    """
    check_tensor_arg("x", x, tuple(range(2, 9)), "(..., C, H, W)")
    degrees = check_number("degrees", degrees)
    return rotate_pixels(x, math.radians(degrees), bool(reflection), interpolation=interpolation)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Shift:
    """An integer translation of the input: down by ``dy``, right by ``dx`` pixels."""

    dy: int
    dx: int

    def __post_init__(self) -> None:
        check_int("dy", self.dy)
        check_int("dx", self.dx)

    def __str__(self) -> str:
        return f"shift ({self.dy}, {self.dx})"


@dataclass(frozen=True)
class Rotation:
    """A rotation by ``degrees`` counter-clockwise (after a mirror when ``reflection``), any angle."""

    degrees: float
    reflection: bool = False

    def __post_init__(self) -> None:
        check_number("degrees", self.degrees)

    @property
    def is_grid_symmetry(self) -> bool:
        """Whether it maps the pixel grid onto itself (a multiple of 90 degrees)."""
        q = self.degrees / 90.0
        return abs(q - round(q)) < 1e-9

    def element_of(self, group: PointGroup) -> GroupElement | None:
        """The same transformation as an element of ``group``, or ``None`` if it is not in it."""
        if group.is_continuous:
            if self.reflection and not group.has_reflections:
                return None
            return group.element_at(self.degrees, self.reflection)  # type: ignore[attr-defined]
        if self.reflection and not group.has_reflections:
            return None
        steps = (self.degrees % 360.0) * group.N / 360.0
        if abs(steps - round(steps)) > 1e-9:
            return None
        return group.element(round(steps) % group.N, self.reflection)

    def __str__(self) -> str:
        return f"rot {self.degrees:g} deg{', flip' if self.reflection else ''}"


Transform = GroupElement | Rotation | Shift


def transform_name(t: Transform) -> str:
    """A short readable name: ``rot 90 deg``, ``rot 0 deg, flip``, ``shift (2, 0)``."""
    if isinstance(t, GroupElement):
        deg = float(t.rotation * 360 / t.group.N)
        return f"rot {deg:g} deg{', flip' if t.reflection else ''}"
    return str(t)


def as_transform(t: object, group: PointGroup) -> Transform:
    """Normalise what a user passes as a transform.

    A group element of ``group`` stays one; a number (degrees) or a
    :class:`Rotation` becomes the element of ``group`` when it lies in it and a
    :class:`Rotation` otherwise; a pair ``(dy, dx)`` or a :class:`Shift` is a shift.
    """
    if isinstance(t, GroupElement):
        if t.group != group:
            raise ValueError(f"`g` must be an element of {group!r} (the group of the types), got {t!r}")
        return t
    if isinstance(t, bool):
        raise TypeError(f"`g` must be a group element, an angle in degrees, a Rotation or a Shift, got {t!r}")
    if isinstance(t, (int, float)):
        t = Rotation(check_number("g", t))
    if isinstance(t, Rotation):
        g = t.element_of(group)
        return g if g is not None else t
    if isinstance(t, tuple) and len(t) == 2:
        return Shift(*t)
    if isinstance(t, Shift):
        return t
    raise TypeError(f"`g` must be a group element, an angle in degrees, a Rotation or a Shift, got {t!r}")


def check_angles(name: str, angles: Any) -> list[float]:
    """A sequence of finite angles in degrees; errors name the entry (``angles[1]``)."""
    if isinstance(angles, (str, bytes)) or not isinstance(angles, Iterable):
        raise TypeError(f"`{name}` must be a sequence of angles in degrees, got {describe(angles)}")
    return [check_number(f"{name}[{i}]", a) for i, a in enumerate(angles)]


def check_shifts(name: str, shifts: Any) -> list[tuple[int, int]]:
    """A sequence of integer shifts ``(dy, dx)``; errors name the entry (``shifts[0]``)."""
    if isinstance(shifts, (str, bytes)) or not isinstance(shifts, Iterable):
        raise TypeError(f"`{name}` must be a sequence of (dy, dx) pairs of ints, got {describe(shifts)}")
    out = []
    for i, s in enumerate(shifts):
        if isinstance(s, Shift):
            s = (s.dy, s.dx)
        if not isinstance(s, (tuple, list)) or len(s) != 2:
            raise TypeError(f"`{name}[{i}]` must be a (dy, dx) pair of ints, got {describe(s)}")
        out.append((check_int(f"{name}[{i}][0]", s[0]), check_int(f"{name}[{i}][1]", s[1])))
    return out


def check_transforms(name: str, transforms: Any) -> list[Any]:
    """An iterable of transforms (checked one by one by :func:`as_transform`)."""
    if isinstance(transforms, (str, bytes)) or not isinstance(transforms, Iterable):
        raise TypeError(
            f"`{name}` must be an iterable of transforms (group elements, angles in degrees, Rotation, Shift or "
            f"(dy, dx) pairs), got {describe(transforms)}"
        )
    return list(transforms)


def is_exact(t: Transform) -> bool:
    """Whether the transform maps the pixel grid onto itself (so equivariance can hold to rounding)."""
    if isinstance(t, Shift):
        return True
    return bool(t.is_grid_symmetry)


def act(t: GroupElement | Rotation, x: torch.Tensor, ftype: FieldType | None) -> torch.Tensor:
    """Act with a rotation/element on a tensor of type ``ftype`` (``None``: invariant, left as is).

    Tensors of shape ``(B, C)`` (no pixels) only have their fibres transformed.
    A :class:`Rotation` outside the group moves pixels only, so it needs
    scalar (trivial) fields.
    """
    if ftype is None:
        return x
    flat = x.dim() == 2
    if flat:
        x = x[..., None, None]
    if isinstance(t, GroupElement):
        y = ftype.transform_fibres(x, t) if flat else ftype.transform(x, t)
    else:
        if not ftype.is_trivial:
            raise NotComparable(
                f"{t} is not an element of {ftype.group!r}, so it can only act on scalar fields, not on {ftype!r}"
            )
        y = x if flat else rotate(x, t.degrees, t.reflection)
    return y[..., 0, 0] if flat else y


class NotComparable(ValueError):
    """The transform cannot be compared for these types (reported as skipped)."""
