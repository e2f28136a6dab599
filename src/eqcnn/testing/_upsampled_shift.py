"""Shifts through upsampling: shift the input by ``t``, and the output must move by ``f t``.

An upsampling layer (``Upsample`` by an integer factor, a transposed
convolution with stride ``f``) maps a shift of the input by one pixel to a shift
of the output by ``f`` pixels, away from the borders. The comparison is the
crop-mode one (two windows of the input whose content is shifted, no pixel
wraps around), with the output moved by ``f t`` and compared where neither
window's border reaches.  Where that border reaches is measured: the gradient
support of ``f`` neighbouring output rows and columns (one per phase) gives how
far an output pixel looks to each side in input pixels, with one pixel to spare.

``f`` is how much the output grows when the input grows by one pixel, and it
must be the same for two steps: after a stride-2 pool and a 2x upsampling the
output grows by 2, then 0, and follows shifts by 2 only, which the default
shifts (by 1) would fail; such models are not compared.
"""

from __future__ import annotations

import itertools
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
    """How far (in input pixels, per axis) output pixels look before and after their own input position.

    For each axis and each of the ``factor`` phases, the gradient of a whole output row (or column),
    weighted at random over its pixels and channels, gives the input rows (columns) it depends on:
    a row is many pixels, so units that a ReLU switches off at one pixel do not hide the reach.
    Raises ``NotComparable`` where no gradient shows any dependence (e.g. a rounding step).
    """
    before, after = [0.0, 0.0], [0.0, 0.0]
    seen = [False, False]
    gen = torch.Generator().manual_seed(4321)
    with torch.enable_grad():
        for _ in range(2):
            probe = torch.randn(x.shape, generator=gen).to(x).requires_grad_(True)
            y = model(probe.clone())
            if not y.requires_grad:
                break
            weights = torch.randn(y.shape[1:], generator=gen).to(y)
            for axis, f in ((0, factor[0]), (1, factor[1])):
                n_out = y.shape[-2 + axis]
                centre = n_out // 2
                for o in range(centre, min(centre + f, n_out)):  # one output row (column) per phase
                    line = (y[0, :, o, :] * weights[:, o, :]) if axis == 0 else (y[0, :, :, o] * weights[:, :, o])
                    (g,) = torch.autograd.grad(line.sum(), probe, retain_graph=True)
                    idx = torch.nonzero((g[0].abs().sum(dim=0) > 0).any(dim=1 - axis)).flatten()
                    if idx.numel() == 0:
                        continue
                    here = (o + 0.5) / f - 0.5  # the output line's position in input pixels
                    before[axis] = max(before[axis], here - float(idx.min()))
                    after[axis] = max(after[axis], float(idx.max()) - here)
                    seen[axis] = True
    if not all(seen):
        raise NotComparable(
            "shifts through upsampling are compared away from the windows' borders, and the gradients show no "
            "dependence of the output on the input to tell how far that is (a step without a gradient?)"
        )
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
    ay, ax = abs(t.dy), abs(t.dx)
    if ay >= H - 2 or ax >= W - 2:
        raise NotComparable(f"{t} is larger than the input {H}x{W}")
    r1 = slice(ay, H) if t.dy >= 0 else slice(0, H - ay)
    r2 = slice(0, H - ay) if t.dy >= 0 else slice(ay, H)
    c1 = slice(ax, W) if t.dx >= 0 else slice(0, W - ax)
    c2 = slice(0, W - ax) if t.dx >= 0 else slice(ax, W)
    y = run(model, x)  # an error at the input's own size is the model's: raised
    try:
        sizes = [tuple(y.shape[-2:])] + [tuple(run(model, x[..., : H - d, : W - d]).shape[-2:]) for d in (1, 2)]
        y1, y2 = run(model, x[..., r1, c1]), run(model, x[..., r2, c2])
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise NotComparable(
            f"the model runs on {H}x{W} but not on the smaller inputs that a shift through upsampling compares "
            f"({type(e).__name__}: {first:.80}), so shifts are not compared"
        ) from e
    growth = [(a[0] - b[0], a[1] - b[1]) for a, b in itertools.pairwise(sizes)]
    factor = growth[0]
    if growth[0] != growth[1] or min(factor) < 1:
        # e.g. a stride-2 pool before a 2x upsampling: the output grows by 2, then by 0
        raise NotComparable(
            f"the output does not grow by a fixed factor per input pixel (sizes {sizes} on {H}, {H - 1}, {H - 2} "
            "pixels): downsampling before the upsampling, so shifts by one pixel are not compared"
        )
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
