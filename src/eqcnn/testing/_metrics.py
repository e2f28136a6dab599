"""equivariance_error: one model, one input, one transform, two numbers."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from .._checks import ShapeError, check_choice, check_tensor_arg, describe
from ..fields import FieldType
from ..groups import GroupElement, PointGroup
from ._declare import Declaration, OutputKind, check_model_input, declare, model_device_dtype
from ._masks import disk_mask, soft_disk, valid_mask
from ._modes import eval_mode
from ._receptive_field import ReceptiveField, _conv_like, receptive_field
from ._tolerance import no_tf32
from ._transforms import (
    NotComparable,
    Shift,
    Transform,
    act,
    as_transform,
    check_tiles,
    is_exact,
    shift,
    shifted_windows,
    transform_name,
)
from ._upsampled_shift import upsampled_shift

__all__ = ["EquivarianceResult", "ShiftMode", "equivariance_error"]

ShiftMode = Literal["auto", "circular", "crop"]


@dataclass(frozen=True)
class EquivarianceResult:
    """The error of ``model(g . x)`` against ``g . model(x)`` inside the valid region.

    Attributes:
        transform: readable name of ``g``.
        exact: whether ``g`` maps the pixel grid onto itself (so only rounding should remain).
        rel_l2: ``||model(g x) - g model(x)|| / ||g model(x)||`` over the compared entries.
        max_abs: the largest absolute difference there.
        compared: how many output entries were compared.
    """

    transform: str
    exact: bool
    rel_l2: float
    max_abs: float
    compared: int


def _wraps_circularly(m: nn.Module) -> bool | None:
    """For a conv or pooling layer: whether it commutes with circular shifts (``None``: not such a layer)."""
    rf, mode = _conv_like(m), getattr(m, "padding_mode", None)
    if rf is None:  # e.g. an anti-aliasing filter that pads by itself
        return None if not isinstance(mode, str) else mode == "circular"
    if mode == "circular":
        return True
    return rf.padding == (0, 0) and rf.size == rf.stride  # windows that tile the image: nothing to wrap


def resolve_shift_mode(model: nn.Module, shift_mode: ShiftMode) -> Literal["circular", "crop"]:
    """``auto``: circular when every convolution and pooling layer commutes with circular shifts
    (circular padding, or windows that tile the image), else crop to the valid region."""
    check_choice("shift_mode", shift_mode, ("auto", "circular", "crop"))
    if shift_mode != "auto":
        return shift_mode
    flags = [_wraps_circularly(m) for m in model.modules()]
    return "circular" if all(f is not False for f in flags) else "crop"


_FIXED_GRID = "the output grid does not follow the input (a fixed output size), so shifts are not compared"
_UPSAMPLING = "shifts through upsampling layers are not compared (the output moves by a multiple)"


def _run(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    y = model(x.clone())  # an in-place first layer (ReLU(inplace=True)) must not change the input compared later
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"the model must return a tensor, got {type(y).__name__}")
    return y


def compare(
    model: nn.Module,
    x: torch.Tensor,
    t: Transform,
    decl: Declaration,
    shift_mode: Literal["circular", "crop"],
    rf: ReceptiveField | None,
    asked_circular: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(model(t x), t model(x), mask)``; ``mask`` is a boolean ``(H', W')`` or ``None`` (compare all).

    Shifts through upsampling are compared on rolled images only where ``asked_circular`` (the caller's
    ``shift_mode='circular'``): ``'auto'`` sees the padding of convolutions and pools, not whether an
    interpolation inside a custom module wraps around (bilinear interpolation does not)."""
    if isinstance(t, Shift):
        if rf is None:
            rf = receptive_field(model, tuple(x.shape))
        if rf.is_fixed_grid:
            raise NotComparable(_FIXED_GRID)
        if rf.is_upsampling:  # the output moves by the upsampling factor times the shift
            return upsampled_shift(model, x, t, _run, circular=asked_circular)
        if rf.is_global:  # every output sees the whole input: it must not change (circular shifts only)
            if shift_mode != "circular":
                raise NotComparable(
                    "every output sees the whole input, so a cropped window changes what it sees: a global "
                    "output is compared under circular shifts only (circular padding, or shift_mode='circular')"
                )
            return _run(model, shift(x, t.dy, t.dx)), _run(model, x), None
        S = rf.stride
        if t.dy % S[0] or t.dx % S[1]:
            raise NotComparable(f"{t} is not a multiple of the model's stride {S}")
        k = (t.dy // S[0], t.dx // S[1])
        if shift_mode == "circular":
            y = _run(model, x)
            H, W = x.shape[-2:]
            if y.dim() >= 3 and S != (1, 1):  # a strided output samples the circle only if it tiles the input
                check_tiles((y.shape[-2], y.shape[-1]), (H, W), S, (1, 1))
            a = _run(model, shift(x, t.dy, t.dx))
            if decl.out_type_for(y) is None or y.dim() == 2:
                return a, y, None
            return a, shift(y, *k), None
        # crop: two windows of x whose content is shifted by (dy, dx); no pixels wrap around
        H, W = x.shape[-2:]
        ay, ax = abs(t.dy), abs(t.dx)
        if ay >= H or ax >= W:
            raise NotComparable(f"{t} is larger than the input {H}x{W}")
        win1, win2 = shifted_windows(x, t)
        try:
            y1 = _run(model, win1)
            y2 = _run(model, win2)
        except (RuntimeError, ValueError) as e:
            _run(model, x)  # an error at the input's own size is the model's: raise it
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise NotComparable(
                f"the model runs on {H}x{W} but fails on the {H - ay}x{W - ax} windows that {t} compares "
                f"({type(e).__name__}: {first:.80}); it runs at one input size only or needs a larger input, "
                "so shifts are not compared"
            ) from e
        if y1.dim() < 3 or decl.out_type_for(y1) is None:
            raise NotComparable("an invariant output can only be compared under circular shifts (circular padding)")
        y = _run(model, x)
        grown = (y.shape[-2] - y1.shape[-2], y.shape[-1] - y1.shape[-1]) if y.dim() >= 3 else None
        if grown != (abs(k[0]), abs(k[1])):
            raise NotComparable(
                f"the output is {tuple(y.shape[-2:])} on {H}x{W} and {tuple(y1.shape[-2:])} on {H - ay}x{W - ax}, "
                f"not {abs(k[0])}x{abs(k[1])} pixels more as the stride {S} says (a fixed output size or a "
                "wrongly measured stride), so shifts are not compared"
            )
        m = valid_mask(rf, (H - ay, W - ax), y1.shape[-2:]).to(y1.device)
        return y2, shift(y1, *k), m & shift(m, *k, mode="zeros")
    if not is_exact(t):
        x = x * soft_disk(x.shape[-2:], device=x.device).to(x.dtype)
    y = _run(model, x)
    out_type = decl.out_type_for(y)
    odd_turn = isinstance(t, GroupElement) and t.quarter_turns is not None and t.quarter_turns % 2 == 1
    if odd_turn and (
        x.shape[-1] != x.shape[-2] or (y.dim() >= 3 and out_type is not None and y.shape[-1] != y.shape[-2])
    ):
        raise NotComparable(f"{transform_name(t)} needs square images")
    a = _run(model, act(t, x, decl.in_type))  # type: ignore[arg-type]
    b = act(t, y, out_type)  # type: ignore[arg-type]
    mask: torch.Tensor | None = None
    if not is_exact(t) and has_pixels(y) and out_type is not None:
        mask = disk_mask(y.shape[-2:], margin=1.0, device=y.device)
    return a, b, mask


def has_pixels(y: torch.Tensor) -> bool:
    """Whether ``y`` is a map with more than one pixel; ``(B, C)`` and ``(B, C, 1, 1)`` outputs (global
    pooling) have none to move, so they are compared whole, without a disk."""
    return y.dim() >= 3 and y.shape[-2] * y.shape[-1] > 1


def errors(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> tuple[float, float, int]:
    """``(relative L2, max abs, entries)`` of ``a - b`` over ``mask``, computed in float64."""
    if a.shape != b.shape:
        raise ValueError(f"outputs of shape {tuple(a.shape)} and {tuple(b.shape)} cannot be compared")
    a, b = a.detach().to(torch.float64), b.detach().to(torch.float64)
    if mask is not None:
        a, b = a[..., mask], b[..., mask]
    if a.numel() == 0:
        raise NotComparable("the valid region is empty: use a larger input than the receptive field")
    diff = a - b
    norm = float(b.norm())
    rel = float(diff.norm()) / norm if norm > 0 else float(diff.norm())
    return rel, float(diff.abs().max()), int(a.numel())


def prepare_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"`x` must be a floating point torch.Tensor, got {describe(x)}")
    if next(model.parameters(), None) is None and next(model.buffers(), None) is None:
        return x  # nothing to match: keep the input's device and dtype
    device, dtype = model_device_dtype(model)
    return x.to(device=device, dtype=dtype)


def equivariance_error(
    model: nn.Module,
    x: torch.Tensor,
    g: Any,
    *,
    group: PointGroup | None = None,
    in_type: FieldType | int | None = None,
    out_type: FieldType | None = None,
    output: OutputKind | None = None,
    mask: torch.Tensor | None = None,
    shift_mode: ShiftMode = "auto",
) -> EquivarianceResult:
    """How far ``model(g . x)`` is from ``g . model(x)``: relative L2 and max-abs inside the valid region.

    ``g`` is a group element, an angle in degrees (any angle; it becomes the
    group element when it lies in the group), a :class:`Rotation` or a
    :class:`Shift` / ``(dy, dx)`` pair.  The input transforms by ``in_type``,
    the output by ``out_type`` (both default to the model's; for a plain
    model, declare ``output="invariant"`` or ``"image"``; see :func:`declare`).

    What is compared:

    - grid symmetries (multiples of 90 degrees, flips): the whole output;
    - other angles: ``x`` is windowed by a soft disk and the output compared
      inside the inscribed disk (a pixel less for interpolation), or whole
      where it has no pixels to move (``(B, C)``, ``(B, C, 1, 1)``); an angle
      not in the group only moves pixels, so it needs scalar fields;
    - shifts (multiples of the total stride ``s``; the output moves by
      ``shift / s``): with circular padding the whole output; otherwise two
      crops of ``x`` offset by the shift, compared where the receptive field
      (:func:`receptive_field`) touches no padding.  Through upsampling, where
      the output grows by ``g`` pixels per ``p`` input pixels, a shift by a
      multiple of ``p`` moves the output by ``g / p`` times it, compared on two
      crops away from their borders (how far an output pixel looks is
      measured by gradients).  Through a layer with a fixed output size
      (adaptive pooling to more than one pixel, ``Upsample(size=...)``), or
      where the output grid does not follow the input size, shifts raise
      ``NotComparable`` (a ``ValueError``) with the reason.

    ``mask`` (boolean ``(H', W')``) restricts the comparison further.  The
    model runs in eval mode without gradients; exact transforms run with TF32
    off.  Errors are computed in float64.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> from eqcnn.testing import equivariance_error, band_limited_noise
        >>> G = eqcnn.Cyclic(4)
        >>> conv = enn.Conv2d(G.trivial(1), G.regular(2), 3, padding=1)
        >>> x = band_limited_noise((1, 1, 9, 9))
        >>> equivariance_error(conv, x, G.elements[1]).rel_l2 < 1e-5
        True
    """
    check_model_input(model, x, x_required=True)
    if mask is not None:
        check_tensor_arg("mask", mask, (2,), "(H', W') (the output's pixels)")
    decl = declare(model, group=group, in_type=in_type, out_type=out_type, output=output, channels=x.shape[-3])
    x = prepare_input(model, x)
    t = as_transform(g, decl.group)
    mode = resolve_shift_mode(model, shift_mode)
    exact = is_exact(t)
    with eval_mode(model), no_tf32() if exact else nullcontext():
        a, b, m = compare(model, x, t, decl, mode, None, shift_mode == "circular")
    if mask is not None:
        if a.dim() < 3 or tuple(mask.shape) != tuple(a.shape[-2:]):
            want = f"the output's pixels {tuple(a.shape[-2:])}" if a.dim() >= 3 else "an output with pixels"
            raise ShapeError(f"`mask` must have the shape of {want}, got shape {tuple(mask.shape)}")
        mask = mask.to(device=a.device, dtype=torch.bool)
        m = mask if m is None else (m & mask)
    rel, mx, n = errors(a, b, m)
    return EquivarianceResult(transform_name(t), exact, rel, mx, n)
