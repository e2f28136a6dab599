"""Shifts through upsampling: shift the input by ``t``, and the output must move by ``f t``.

An upsampling layer (``Upsample`` by an integer factor, a transposed
convolution with stride ``f``) maps a shift of the input by one pixel to a shift
of the output by ``f`` pixels, away from the borders. The comparison is the
crop-mode one (two windows of the input whose content is shifted, no pixel
wraps around), with the output moved by ``f t`` and compared where neither
window's border reaches.  Where that border reaches is measured: the gradient
support of ``f`` neighbouring output rows and columns (one per phase) gives how
far an output pixel looks to each side in input pixels, with one pixel to spare.

The grid is read from sizes: the output grows by ``g`` pixels for every ``p``
input pixels (:func:`upsampling_grid`).  After a stride-2 pool and a 2x
upsampling, ``p`` = 2 and ``g`` = 2: the model follows shifts by 2 only, so the
report's default shifts are multiples of ``p``, and a shift by ``p`` moves the
output by ``g``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ._transforms import NotComparable, Shift, shift, shifted_windows

__all__ = ["upsampled_shift", "upsampling_grid"]


def _fails_on(H: int, W: int, what: str, e: Exception) -> NotComparable:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return NotComparable(
        f"the model runs on {H}x{W} but not on {what} ({type(e).__name__}: {first:.80}), so shifts are not compared"
    )


def _reach(model: nn.Module, x: torch.Tensor, growth: tuple[int, int], period: int) -> tuple[list[float], list[float]]:
    """How far (in input pixels, per axis) output pixels look before and after their own input position.

    For each axis and each of the ``growth`` phases (output lines per ``period`` input pixels), the
    gradient of a whole output row (or column),
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
            for axis, g_out in ((0, growth[0]), (1, growth[1])):
                n_out = y.shape[-2 + axis]
                centre = n_out // 2
                for o in range(centre, min(centre + g_out, n_out)):  # one output row (column) per phase
                    line = (y[0, :, o, :] * weights[:, o, :]) if axis == 0 else (y[0, :, :, o] * weights[:, :, o])
                    (g,) = torch.autograd.grad(line.sum(), probe, retain_graph=True)
                    idx = torch.nonzero((g[0].abs().sum(dim=0) > 0).any(dim=1 - axis)).flatten()
                    if idx.numel() == 0:
                        continue
                    here = (o + 0.5) * period / g_out - 0.5  # the output line's position in input pixels
                    before[axis] = max(before[axis], here - float(idx.min()))
                    after[axis] = max(after[axis], float(idx.max()) - here)
                    seen[axis] = True
    if not all(seen):
        raise NotComparable(
            "shifts through upsampling are compared away from the windows' borders, and the gradients show no "
            "dependence of the output on the input to tell how far that is (a step without a gradient?)"
        )
    return before, after


def _interior(n_in: int, n_out: int, g_out: int, period: int, before: float, after: float) -> torch.Tensor:
    pos = (torch.arange(n_out, dtype=torch.float64) + 0.5) * period / g_out - 0.5
    return (pos - before - 1 >= 0) & (pos + after + 1 <= n_in - 1)


def upsampling_grid(
    model: nn.Module, x: torch.Tensor, run: Callable[[nn.Module, torch.Tensor], torch.Tensor], longest: int = 8
) -> tuple[int, tuple[int, int]]:
    """``(p, g)``: the output grows by ``g`` pixels (per axis) for every ``p`` input pixels.

    ``p`` is the smallest period for which that growth is the same from every
    starting size ``H - d`` (``0 <= d < p``) over two steps: a stride-2 pool
    before a 2x upsampling has ``p`` = 2, ``g`` = 2; two such pools ``p`` = 4.
    A size the model does not run at rules out the periods that need it (a
    U-Net with a skip connection runs on even sizes only: ``p`` = 2 is tried
    from the even sizes).  Raises ``NotComparable`` where no ``p`` up to
    ``longest`` qualifies.
    """
    H, W = x.shape[-2:]
    y = run(model, x)  # an error at the input's own size is the model's: raised
    sizes: dict[int, tuple[int, int] | None] = {0: (y.shape[-2], y.shape[-1])}
    failure = ""

    def size(d: int) -> tuple[int, int] | None:
        nonlocal failure
        if d not in sizes:
            try:
                out = run(model, x[..., : H - d, : W - d])
                sizes[d] = (out.shape[-2], out.shape[-1])
            except (RuntimeError, ValueError) as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                failure = failure or f"; it fails on {H - d}x{W - d} ({type(e).__name__}: {first:.80})"
                sizes[d] = None
        return sizes[d]

    for p in range(1, longest + 1):
        if min(H, W) - 3 * p < 3:
            break
        steps = set()
        for start in range(p):
            a, b, c = size(start), size(start + p), size(start + 2 * p)
            if a is None or b is None or c is None:
                continue  # a size the model does not run at: judge this period from the others
            steps |= {(a[0] - b[0], a[1] - b[1]), (b[0] - c[0], b[1] - c[1])}
        if len(steps) == 1:
            (g,) = steps
            if min(g) >= 1:
                return p, g
    raise NotComparable(
        f"the output does not grow by a fixed number of pixels for every p input pixels (p <= {longest}, on "
        f"{H}x{W}){failure}, so shifts are not compared"
    )


def upsampled_shift(
    model: nn.Module, x: torch.Tensor, t: Shift, run: Callable[[nn.Module, torch.Tensor], torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(model(t x), t' model(x), mask)`` for a model whose output grows by ``g`` pixels per ``p`` input
    pixels (:func:`upsampling_grid`): a shift by a multiple of ``p`` moves the output by ``g / p`` times it."""
    p, g = upsampling_grid(model, x, run)
    if t.dy % p or t.dx % p:
        raise NotComparable(f"{t} is not a multiple of the model's period {p} (its downsampling before the upsampling)")
    H, W = x.shape[-2:]
    ay, ax = abs(t.dy), abs(t.dx)
    if ay >= H - 2 or ax >= W - 2:
        raise NotComparable(f"{t} is larger than the input {H}x{W}")
    win1, win2 = shifted_windows(x, t)
    try:
        y1, y2 = run(model, win1), run(model, win2)
    except (RuntimeError, ValueError) as e:
        raise _fails_on(H, W, f"the {H - ay}x{W - ax} windows that {t} compares", e) from e
    before, after = _reach(model, x, g, p)
    rows = _interior(H - ay, y1.shape[-2], g[0], p, before[0], after[0])
    cols = _interior(W - ax, y1.shape[-1], g[1], p, before[1], after[1])
    m = (rows[:, None] & cols[None, :]).to(y1.device)
    k = (t.dy // p * g[0], t.dx // p * g[1])
    mask = m & shift(m, *k, mode="zeros")
    if not bool(mask.any()):
        raise NotComparable(
            f"no output pixel is clear of the windows' borders (the model looks {math.ceil(max(before + after))} px "
            "around): use a larger input"
        )
    return y2, shift(y1, *k), mask
