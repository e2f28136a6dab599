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
output by ``g``.  Sizes alone miss the pools of a U-Net that pads or resizes
its upsampled maps to its skip connections' size (its output is the input's
size at every size): ``p`` is also a multiple of the factor by which the
model's feature maps are smaller than its input (:func:`internal_period`,
read from the sizes of the tensors its forward makes on the ``meta`` device).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ._transforms import NotComparable, Shift, check_tiles, shift, shifted_windows

__all__ = ["internal_period", "internal_periods", "measurement_cache", "upsampled_shift", "upsampling_grid"]


# grids and reaches measured during one report (each shift row would measure them again)
_CACHE: ContextVar[dict[Any, Any] | None] = ContextVar("eqcnn_upsampling_cache", default=None)


@contextlib.contextmanager
def measurement_cache() -> Iterator[None]:
    """Within the block, :func:`upsampling_grid` and the reach of a model are measured once per
    model and input shape (a report's shift rows share them)."""
    token = _CACHE.set({})
    try:
        yield
    finally:
        _CACHE.reset(token)


def _cached(key: tuple, make: Callable[[], Any]) -> Any:
    cache = _CACHE.get()
    if cache is None:
        return make()
    if key not in cache:
        try:
            cache[key] = (True, make())
        except NotComparable as e:
            cache[key] = (False, e)
    ok, value = cache[key]
    if not ok:
        raise value
    return value


def _key(model: nn.Module, x: torch.Tensor, *extra: Any) -> tuple:
    return (id(model), tuple(x.shape), x.dtype, x.device, *extra)


class _SpatialSizes(TorchFunctionMode):
    """Records the spatial size of every real 4-D tensor returned by the torch functions a forward calls."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[tuple[int, int]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            # complex tensors are spectra (rfft2: (H, W // 2 + 1)), not maps on the pixel grid
            if isinstance(t, torch.Tensor) and t.dim() == 4 and t.is_floating_point():
                self.sizes.append((int(t.shape[-2]), int(t.shape[-1])))
        return out


# 2^7 3^3: the factors of U-Nets' pools up to 7 levels of 2 or 3 of 3 divide it. Meta tensors cost nothing,
# but a forward may make CPU tensors from the input's size (torch.arange(H)), so it stays moderate.
_META_GROW = 3456


def internal_periods(
    model: nn.Module, x: torch.Tensor, run: Callable[[nn.Module, torch.Tensor], torch.Tensor]
) -> tuple[int, int]:
    """Per axis, the least common multiple of the factors by which the feature maps inside ``model`` are
    smaller than its input (1 where none is).

    The forward runs on ``x``'s size and on ``G`` more pixels per axis, recording the size of every real
    4-D tensor it makes; a tensor that grows by ``G / r`` pixels is ``r`` times smaller than the input.
    Tensors of a fixed size (global or adaptive pooling) do not grow and do not count, nor do maps that
    grow faster than the input (upsampled ones, attention matrices).  The forwards run on the ``meta``
    device (shapes only) with ``G = 3456 = 2^7 3^3`` (factors ``2^a 3^b``, ``a <= 7``, ``b <= 3``, are
    read exactly; others, such as 5, are missed); a model that cannot run there (it mixes tensors of
    its own on the CPU into the computation) runs for real with ``G = 96``.  ``(1, 1)`` where the two
    forwards make different sequences of tensors, or the model fails on the larger size.
    """
    from ..nn._exactness import _meta_probe

    def sizes(m: nn.Module, inp: torch.Tensor, real: bool) -> list[tuple[int, int]] | None:
        rec = _SpatialSizes()
        try:
            with rec, torch.no_grad():
                run(m, inp) if real else m(inp)
        except Exception:  # the model's own error at this size, or on the meta device
            return None
        return rec.sizes

    def periods(a: list[tuple[int, int]] | None, b: list[tuple[int, int]] | None, grow: int) -> tuple[int, int] | None:
        if a is None or b is None or len(a) != len(b):
            return None
        out = [1, 1]
        for s1, s2 in zip(a, b):
            for axis in (0, 1):
                d = s2[axis] - s1[axis]
                if d > 0 and grow % d == 0 and grow // d > 1:
                    out[axis] = math.lcm(out[axis], grow // d)
        return out[0], out[1]

    def measure() -> tuple[int, int]:
        H, W = x.shape[-2:]
        lead = tuple(x.shape[:-2])
        try:
            probe = _meta_probe(model)
        except Exception:  # a model that cannot be copied to the meta device
            probe = None
        if probe is not None:
            base = sizes(probe, torch.empty((*lead, H, W), device="meta", dtype=x.dtype), False)
            big = torch.empty((*lead, H + _META_GROW, W + _META_GROW), device="meta", dtype=x.dtype)
            found = periods(base, sizes(probe, big, False), _META_GROW)
            if found is not None:
                return found
        big = x.new_zeros((*lead, H + 96, W + 96))
        return periods(sizes(model, x, True), sizes(model, big, True), 96) or (1, 1)

    return _cached(_key(model, x, "internal"), measure)  # type: ignore[no-any-return]


def internal_period(model: nn.Module, x: torch.Tensor, run: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> int:
    """The period both axes follow: the least common multiple of :func:`internal_periods`."""
    return math.lcm(*internal_periods(model, x, run))


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
    from the even sizes).  ``p`` is then made a multiple of the model's
    :func:`internal_period` (a U-Net that pads its upsampled maps to its skip
    connections' size keeps the input's size, ``p`` = 1 from sizes, yet
    follows shifts by its pools' stride only).  Periods up to ``longest`` and
    the internal period and its double are tried.  Raises ``NotComparable``
    where none qualifies.
    """
    return _cached(_key(model, x, "grid", longest), lambda: _grid(model, x, run, longest))  # type: ignore[no-any-return]


def _grid(
    model: nn.Module, x: torch.Tensor, run: Callable[[nn.Module, torch.Tensor], torch.Tensor], longest: int
) -> tuple[int, tuple[int, int]]:
    H, W = x.shape[-2:]
    y = run(model, x)  # an error at the input's own size is the model's: raised
    inside = internal_period(model, x, run)
    sizes: dict[int, tuple[int, int] | None] = {0: (y.shape[-2], y.shape[-1])}
    failure = ""

    def size(d: int) -> tuple[int, int] | None:
        nonlocal failure
        if d not in sizes:
            try:
                out = run(model, x[..., : H - d, : W - d])
                sizes[d] = (out.shape[-2], out.shape[-1])
            except Exception as e:  # the model's own refusal of this size (an assert on divisibility...)
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                failure = failure or f"; it fails on {H - d}x{W - d} ({type(e).__name__}: {first:.80})"
                sizes[d] = None
        return sizes[d]

    candidates = sorted({*range(1, longest + 1), inside, 2 * inside})
    for p in candidates:
        if min(H, W) - 3 * p < 3:
            failure = failure or f"; a period of {p} or more needs an input of at least {3 * p + 3} px"
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
                q = math.lcm(p, inside)
                return q, (g[0] * (q // p), g[1] * (q // p))
    raise NotComparable(
        f"the output does not grow by a fixed number of pixels for every p input pixels (p <= "
        f"{max(candidates)}, on {H}x{W}){failure}, so shifts are not compared"
    )


def _no_clear_pixel(
    model: nn.Module, x: torch.Tensor, t: Shift, g: tuple[int, int], p: int, before: list[float], after: list[float]
) -> NotComparable:
    """Why no output pixel could be compared: the input is too small (and what size would do), or every
    output pixel depends on the whole input whatever its size (measured again on twice the size)."""
    H, W = x.shape[-2:]
    span = max(before[0] + after[0], before[1] + after[1])
    if span >= min(H, W) - 3:  # it sees (nearly) everything: a U-Net too deep for the size, or global statistics
        bigger = x.new_zeros((*x.shape[:-2], 2 * H, 2 * W))
        try:
            b2, a2 = _cached(_key(model, bigger, "reach", g, p), lambda: _reach(model, bigger, g, p))
        except Exception:  # the model does not run on twice the size, or shows no gradient there
            b2, a2 = before, after
        span2 = max(b2[0] + a2[0], b2[1] + a2[1])
        if span2 >= 2 * min(H, W) - 3:
            return NotComparable(
                f"every output pixel depends on the whole input, at {H}x{W} and at {2 * H}x{2 * W} (statistics over "
                "the image, attention...): a larger input does not help, and cropped windows are not compared; "
                "with circular padding, shift_mode='circular' compares whole rolled images"
            )
        span = span2
    need = math.ceil(span) + 2 * max(abs(t.dy), abs(t.dx)) + 4
    return NotComparable(
        f"no output pixel is clear of the windows' borders (an output pixel looks across {math.ceil(span)} px of "
        f"input): use an input of at least {need} px"
    )


def upsampled_shift(
    model: nn.Module,
    x: torch.Tensor,
    t: Shift,
    run: Callable[[nn.Module, torch.Tensor], torch.Tensor],
    circular: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(model(t x), t' model(x), mask)`` for a model whose output grows by ``g`` pixels per ``p`` input
    pixels (:func:`upsampling_grid`): a shift by a multiple of ``p`` moves the output by ``g / p`` times it.

    ``circular``: the input is rolled and the whole output compared with the rolled output (``mask``
    None), for models with circular padding whose output tiles the input (``H' p = H g``); otherwise
    two cropped windows are compared away from their borders.
    """
    p, g = upsampling_grid(model, x, run)
    if t.dy % p or t.dx % p:
        raise NotComparable(f"{t} is not a multiple of the model's period {p} (its downsampling before the upsampling)")
    H, W = x.shape[-2:]
    k = (t.dy // p * g[0], t.dx // p * g[1])
    if circular:
        y = run(model, x)
        check_tiles((y.shape[-2], y.shape[-1]), (H, W), (p, p), g)
        return run(model, shift(x, t.dy, t.dx)), shift(y, *k), None
    ay, ax = abs(t.dy), abs(t.dx)
    if ay >= H - 2 or ax >= W - 2:
        raise NotComparable(f"{t} is larger than the input {H}x{W}")
    win1, win2 = shifted_windows(x, t)
    try:
        y1, y2 = run(model, win1), run(model, win2)
    except Exception as e:  # the model's refusal of the windows' size
        raise _fails_on(H, W, f"the {H - ay}x{W - ax} windows that {t} compares", e) from e
    before, after = _cached(_key(model, x, "reach", g, p), lambda: _reach(model, x, g, p))
    rows = _interior(H - ay, y1.shape[-2], g[0], p, before[0], after[0])
    cols = _interior(W - ax, y1.shape[-1], g[1], p, before[1], after[1])
    m = (rows[:, None] & cols[None, :]).to(y1.device)
    mask = m & shift(m, *k, mode="zeros")
    if not bool(mask.any()):
        raise _no_clear_pixel(model, x, t, g, p, before, after)
    return y2, shift(y1, *k), mask
