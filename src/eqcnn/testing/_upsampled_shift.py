"""Shifts through upsampling: shift the input by ``t``, and the output must move by ``f t``.

An upsampling layer (``Upsample`` by an integer factor, a transposed
convolution with stride ``f``) maps a shift of the input by one pixel to a shift
of the output by ``f`` pixels, away from the borders. The comparison is the
crop-mode one (two windows of the input whose content is shifted, no pixel
wraps around), with the output moved by ``f t`` and compared where neither
window's border reaches.  Where that border reaches is measured: the gradient
support of ``f`` neighbouring output pixels (one per phase) gives how far an
output pixel looks to each side in input pixels, with one pixel to spare.

Only models that do not also downsample are compared: after a stride-2 pool
and a 2x upsampling the output follows shifts by 2 only, which the default
shifts (by 1) would fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ._transforms import NotComparable, Shift, shift

__all__ = ["upsampled_shift"]

_DOWNSAMPLING = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def _downsamples(model: nn.Module) -> bool:
    from ..nn import AvgPool2d, BlurPool2d, Conv2d, MaxPool2d

    for m in model.modules():
        if isinstance(m, (*_DOWNSAMPLING, Conv2d, MaxPool2d, AvgPool2d, BlurPool2d)):
            s: Any = getattr(m, "stride", 1)
            s = getattr(m, "kernel_size", 1) if s is None else s
            if any(int(v) > 1 for v in ((s, s) if isinstance(s, int) else s)):
                return True
        elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.PixelUnshuffle)):
            return True
    return False


def _reach(model: nn.Module, x: torch.Tensor, factor: tuple[int, int]) -> tuple[list[float], list[float]]:
    """How far (in input pixels, per axis) output pixels look before and after their own input position."""
    before, after = [0.0, 0.0], [0.0, 0.0]
    gen = torch.Generator().manual_seed(4321)
    with torch.enable_grad():
        for _ in range(2):
            probe = torch.randn(x.shape, generator=gen).to(x).requires_grad_(True)
            y = model(probe.clone())
            Ho, Wo = y.shape[-2:]
            for axis, n_out, f in ((0, Ho, factor[0]), (1, Wo, factor[1])):
                centre = n_out // 2
                for o in range(centre, min(centre + f, n_out)):  # one output pixel per phase
                    i, j = (o, Wo // 2) if axis == 0 else (Ho // 2, o)
                    (g,) = torch.autograd.grad(y[0, :, i, j].sum(), probe, retain_graph=True)
                    sup = g[0].abs().sum(dim=0) > 0
                    idx = torch.nonzero(sup.any(dim=1 - axis)).flatten()
                    if idx.numel() == 0:
                        continue
                    here = (o + 0.5) / f - 0.5  # the output pixel's position in input pixels
                    before[axis] = max(before[axis], here - float(idx.min()))
                    after[axis] = max(after[axis], float(idx.max()) - here)
    return before, after


def _interior(n_in: int, n_out: int, f: int, before: float, after: float) -> torch.Tensor:
    pos = (torch.arange(n_out, dtype=torch.float64) + 0.5) / f - 0.5
    return (pos - before - 1 >= 0) & (pos + after + 1 <= n_in - 1)


def upsampled_shift(
    model: nn.Module, x: torch.Tensor, t: Shift, run: Callable[[nn.Module, torch.Tensor], torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(model(t x), f t model(x), mask)`` for a model that upsamples by an integer factor ``f``."""
    if _downsamples(model):
        raise NotComparable(
            "shifts through downsampling followed by upsampling are not compared (the output follows shifts by "
            "the downsampling factor only)"
        )
    H, W = x.shape[-2:]
    y = run(model, x)
    smaller = run(model, x[..., : H - 1, : W - 1])
    factor = (y.shape[-2] - smaller.shape[-2], y.shape[-1] - smaller.shape[-1])
    if min(factor) < 1:
        raise NotComparable(f"the output does not grow with the input ({tuple(y.shape[-2:])} on {H}x{W})")
    ay, ax = abs(t.dy), abs(t.dx)
    if ay >= H - 2 or ax >= W - 2:
        raise NotComparable(f"{t} is larger than the input {H}x{W}")
    r1 = slice(ay, H) if t.dy >= 0 else slice(0, H - ay)
    r2 = slice(0, H - ay) if t.dy >= 0 else slice(ay, H)
    c1 = slice(ax, W) if t.dx >= 0 else slice(0, W - ax)
    c2 = slice(0, W - ax) if t.dx >= 0 else slice(ax, W)
    y1, y2 = run(model, x[..., r1, c1]), run(model, x[..., r2, c2])
    before, after = _reach(model, x, factor)
    rows = _interior(H - ay, y1.shape[-2], factor[0], before[0], after[0])
    cols = _interior(W - ax, y1.shape[-1], factor[1], before[1], after[1])
    m = (rows[:, None] & cols[None, :]).to(y1.device)
    k = (t.dy * factor[0], t.dx * factor[1])
    mask = m & shift(m, *k, mode="zeros")
    if not bool(mask.any()):
        raise NotComparable(
            f"no output pixel is clear of the windows' borders (the model looks {math.ceil(max(before + after))} px "
            "around): use a larger input"
        )
    return y2, shift(y1, *k), mask
