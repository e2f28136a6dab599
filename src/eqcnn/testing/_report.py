"""equivariance_report and assert_equivariant: every transform tried, in one readable table."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._checks import check_dtype, check_int, check_module, check_number, check_tensor_arg
from ..fields import FieldType
from ..groups import GroupElement, PointGroup, Trivial
from ..nn._exactness import _meta_probe, _trace_steps
from ._baseline import plain_baseline
from ._declare import Declaration, OutputKind, check_model_input, declare, model_device_dtype
from ._inputs import band_limited_noise
from ._metrics import ShiftMode, _run, compare, errors, has_pixels, prepare_input, resolve_shift_mode
from ._modes import eval_mode
from ._receptive_field import ReceptiveField, _conv_like, _is_transposed, fixed_grid_layers, receptive_field
from ._tolerance import BASELINE_RATIO, no_tf32, tolerance
from ._transforms import (
    NotComparable,
    Rotation,
    Shift,
    Transform,
    as_transform,
    check_angles,
    check_shifts,
    check_transforms,
    is_exact,
    transform_name,
)
from ._upsampled_shift import internal_period, measurement_cache, upsampling_grid
from ._volume import is_volumetric, volume_report

__all__ = ["EquivarianceReport", "ReportRow", "assert_equivariant", "equivariance_report", "grid_symmetry_problems"]

Baseline = nn.Module | Callable[[PointGroup], nn.Module] | str | None


@dataclass
class ReportRow:
    """One transform: its errors, the limit it is held to and the verdict.

    ``kind`` is ``"exact"`` (held to the dtype's tolerance), ``"approx"`` (an
    off-grid element of G, held to ``ratio`` times the baseline's error, except
    for invariant outputs and without a baseline) or ``"extra"`` (an angle
    outside G: reported, not judged).  ``status`` is ``"pass"``, ``"FAIL"``,
    ``"skip"`` (not comparable; see ``note``) or ``"info"`` (measured, not
    judged; ``note`` says why where the kind does not).
    """

    transform: str
    kind: str
    rel_l2: float | None = None
    max_abs: float | None = None
    limit: float | None = None
    baseline: float | None = None
    status: str = "skip"
    note: str = ""


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return "0" if v == 0 else f"{v:.2e}"


@dataclass
class EquivarianceReport:
    """The result of :func:`equivariance_report`; ``str()`` gives the table, ``passed`` the verdict."""

    model: str
    input_shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    law: str
    shift_mode: str
    receptive_field: ReceptiveField | None
    ratio: float
    rows: list[ReportRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No judged transform failed (also true where nothing was judged: see :attr:`judged`)."""
        return not any(r.status == "FAIL" for r in self.rows)

    @property
    def judged(self) -> int:
        """How many transforms were judged (``pass`` or ``FAIL``); the rest are ``skip`` or ``info``."""
        return sum(r.status in ("pass", "FAIL") for r in self.rows)

    @property
    def failures(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "FAIL"]

    def __str__(self) -> str:
        dt = str(self.dtype).replace("torch.", "")
        lines = [f"equivariance of {self.model} on input {tuple(self.input_shape)} {dt} {self.device}"]
        lines.append(f"law: {self.law}")
        rf = f"; receptive field {self.receptive_field}" if self.receptive_field is not None else ""
        lines.append(f"shifts: {self.shift_mode}{rf}")
        head = ("transform", "kind", "rel L2", "max abs", "limit", "baseline", "status")
        body = []
        for r in self.rows:
            if r.kind == "approx" and r.limit is not None:
                limit = f"{self.ratio:g} x baseline"
            else:
                limit = _fmt(r.limit)
            status = r.status + (f"  ({r.note})" if r.note else "")
            body.append((r.transform, r.kind, _fmt(r.rel_l2), _fmt(r.max_abs), limit, _fmt(r.baseline), status))
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head) - 1)]
        for row in [head, *body]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
        for n in self.notes:
            lines.append(f"note: {n}")
        n_fail = len(self.failures)
        n_skip = sum(r.status == "skip" for r in self.rows)
        n_info = sum(r.status == "info" for r in self.rows)
        verdict = "FAILED" if not self.passed else ("PASSED" if self.judged else "NOTHING JUDGED")
        info = f", {n_info} not judged" if n_info else ""
        lines.append(f"{verdict}: {len(self.rows)} transforms, {n_fail} failed, {n_skip} skipped{info}")
        return "\n".join(lines)


def grid_symmetry_problems(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Strided layers whose sampled grid is not symmetric for this input, so 90-degree turns cannot be exact.

    A layer with kernel ``k``, dilation ``d``, padding ``p`` and stride ``s``
    on an input of ``n`` pixels samples positions ``-p + s*i + d*j``; the grid
    of sampled centres is symmetric about the image centre exactly when
    ``(n + 2p - d(k-1) - 1) % s == 0``.  Otherwise a rotated input is sampled
    on a shifted grid and equivariance to rotations and flips can only hold
    approximately.
    """
    check_model_input(model)
    check_tensor_arg("x", x, (3, 4), "(B, C, H, W) or (C, H, W)")
    seen: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    names = {id(m): n for n, m in model.named_modules()}

    def hook(mod: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() >= 3:
            seen.append((names.get(id(mod), "?") or "(model)", mod, tuple(args[0].shape[-2:])))

    padded: list[tuple[str, nn.Module, tuple[int, ...]]] = []  # transposed convs adding rows on one side

    def transposed_hook(mod: nn.Module, args: tuple, kwargs: dict) -> None:
        out = args[1] if len(args) > 1 else kwargs.get("output_size")
        extra = tuple(getattr(mod, "output_padding", (0, 0)))
        if out is not None and isinstance(args[0], torch.Tensor):
            extra = tuple(int(o) - e for o, e in zip(tuple(out)[-2:], _transposed_size(mod, args[0].shape[-2:])))
        if any(extra):
            padded.append((names.get(id(mod), "?") or "(model)", mod, extra))

    hooks = [m.register_forward_pre_hook(hook) for m in model.modules() if _conv_like(m) is not None]
    hooks += [
        m.register_forward_pre_hook(transposed_hook, with_kwargs=True) for m in model.modules() if _is_transposed(m)
    ]
    try:
        with eval_mode(model):
            model(x)
    finally:
        for h in hooks:
            h.remove()
    problems = [
        f"layer '{name}' ({type(mod).__name__}) adds output padding {extra}: rows and columns on one side only, so "
        "rotations and flips cannot be exact; use output_padding=0 (and no output_size beyond the smallest)"
        for name, mod, extra in padded
    ]
    for name, mod, hw in seen:
        rf = _conv_like(mod)
        assert rf is not None
        for axis, n in enumerate(hw):
            k, s, p = rf.size[axis], rf.stride[axis], rf.padding[axis]
            if s > 1 and (n + 2 * p - k) % s:
                problems.append(
                    f"layer '{name}' ({type(mod).__name__}, stride {s}) samples an asymmetric grid on {n} pixels: "
                    f"({n} + 2*{p} - {k}) % {s} = {(n + 2 * p - k) % s} != 0, so rotations and flips cannot be "
                    "exact; choose an input size that makes it 0"
                )
                break
    return problems


def _transposed_size(mod: nn.Module, hw: Any) -> tuple[int, int]:
    """A transposed conv's output size without output padding."""
    k = mod.kernel_size if isinstance(mod.kernel_size, tuple) else (mod.kernel_size,) * 2  # type: ignore[union-attr]
    st = mod.stride if isinstance(mod.stride, tuple) else (mod.stride,) * 2  # type: ignore[union-attr]
    p = mod.padding if isinstance(mod.padding, tuple) else (mod.padding,) * 2  # type: ignore[union-attr]
    d = mod.dilation if isinstance(mod.dilation, tuple) else (mod.dilation,) * 2  # type: ignore[union-attr]
    return tuple((n - 1) * s_ - 2 * p_ + d_ * (k_ - 1) + 1 for n, s_, p_, d_, k_ in zip(hw, st, p, d, k))  # type: ignore[return-value]


class _ExactSizes:
    """Which square input sizes keep every strided layer's sampled grid symmetric: the rule of
    :func:`eqcnn.nn.exact_input_sizes`, traced on a ``meta`` copy of the model (no computation)."""

    def __init__(self, model: nn.Module, channels: int) -> None:
        self.channels, self.cache = channels, {}  # type: ignore[var-annotated]
        try:
            self.probe: nn.Module | None = _meta_probe(model)
        except Exception:  # a model that cannot be copied to the meta device: no sizes are known
            self.probe = None

    def exact(self, n: int) -> bool:
        if self.probe is None or n < 1:
            return False
        if n not in self.cache:
            try:
                steps = _trace_steps(self.probe, self.channels, (n, n))
            except Exception:  # the model does not run on the meta device (or at this size)
                steps = None
            self.cache[n] = steps is not None and all(st.is_exact for st in steps)
        return bool(self.cache[n])

    def near(self, n: int, search: int = 64) -> int | None:
        """``n`` if exact, else the smallest exact size above it, else the largest below (within ``search``)."""
        for c in [n, *range(n + 1, n + search + 1), *range(n - 1, max(n - search, 1) - 1, -1)]:
            if self.exact(c):
                return c
        return None


def _base_size(rf: ReceptiveField, period: int = 1) -> int:
    """33, or more where the receptive field would leave the default shifts no output pixel to compare.

    The shift ``(-s, 2s)`` crops ``2s`` pixels and moves the output by 2; with windows of ``k`` pixels
    that start ``p`` before the image, ``n >= k + 4s + 2(s - 1)`` leaves one pixel whatever ``p``;
    ``k + 6s`` keeps two more in hand.  Through downsampling then upsampling (a U-Net whose feature maps
    are ``period`` times smaller than its input at the bottom), ``16 * period`` up to 256: each level of a
    U-Net about doubles how far its output looks (measured: a 2-level U-Net of 3x3 convs needs 64 px).
    """
    if rf.is_upsampling and not rf.is_fixed_grid:
        return max(33, min(16 * period, 256))  # (a deeper U-Net is skipped with the size it needs)
    if rf.is_global or rf.is_upsampling or rf.is_fixed_grid:
        return 33
    return max(33, max(rf.size) + 6 * max(rf.stride))


def _runs_at(model: nn.Module, channels: int, n: int) -> bool:
    """Whether ``model`` runs on an ``n x n`` input (zeros, eval mode, no gradients)."""
    device, dtype = model_device_dtype(model)
    try:
        with eval_mode(model), torch.no_grad():
            _run(model, torch.zeros(1, channels, n, n, device=device, dtype=dtype))
    except Exception:
        return False
    return True


def _default_size(model: nn.Module, channels: int) -> tuple[ReceptiveField, int]:
    """The default input size, and the receptive field there (measured parts are measured at that size)."""
    sizes = _ExactSizes(model, channels)
    try:
        rf = receptive_field(model, (1, channels, 64, 64))
    except Exception:  # e.g. a model that runs at one input size only: measure at a size it runs at
        n = sizes.near(33)
        if n is None:
            raise
        rf = receptive_field(model, (1, channels, n, n))
    period = 1
    if rf.is_upsampling and not rf.is_fixed_grid:
        device, dtype = model_device_dtype(model)
        probe = torch.zeros(1, channels, 64, 64, device=device, dtype=dtype)
        with eval_mode(model):
            period = internal_period(model, probe, _run)
    n0 = _base_size(rf, period)
    n = sizes.near(n0)
    if n is None:  # not traceable: n = 1 (mod S), symmetric for 'same'-padded odd kernels, where the model runs
        S = 1 if rf.is_global or rf.is_upsampling or rf.is_fixed_grid else max(rf.stride)
        first = n0 + (1 - n0) % S
        n = next((c for c in range(first, first + 65) if _runs_at(model, channels, c)), first)
    if rf.method != "analytic":  # a measured field can depend on the size (e.g. padding computed from it)
        rf = receptive_field(model, (1, channels, n, n))
    return rf, n


def _baseline_pair(model: nn.Module, decl: Declaration, baseline: Baseline) -> tuple[nn.Module, Declaration] | None:
    if baseline is None:
        return None
    if isinstance(baseline, str):
        if baseline != "auto":
            raise ValueError(
                f"`baseline` must be 'auto', None, an nn.Module or a callable group -> model; got {baseline!r}"
            )
        try:
            return plain_baseline(model), decl
        except ValueError:
            return None
    if isinstance(baseline, nn.Module):
        b = baseline
    elif callable(baseline):
        b = baseline(Trivial())
        if not isinstance(b, nn.Module):
            raise TypeError(f"`baseline` called with Trivial() must return an nn.Module, got {type(b).__name__}")
    else:
        raise TypeError(f"`baseline` must be 'auto', None, an nn.Module or a callable, got {type(baseline).__name__}")
    device, dtype = model_device_dtype(model)
    b = b.to(device=device, dtype=dtype)
    if isinstance(getattr(b, "in_type", None), FieldType):
        return b, declare(b, output="invariant" if decl.out == "invariant" else None)
    return b, decl


_INVARIANT_NOTE = (
    "the output is invariant (no pixels to move), so off-grid rotations are reported next to the baseline but "
    "not judged: pooling over the whole image already makes a plain CNN nearly invariant on smooth inputs (a few "
    "percent), so the ratio to the baseline says nothing about the model; {judged}, and "
    "layerwise_errors(model, g=...) shows the off-grid error of the feature maps before the pooling"
)
_INVARIANT_ROW = "invariant output: not judged, see the note"


def is_invariant_output(decl: Declaration, y: torch.Tensor) -> bool:
    """Whether the output ``y`` does not change under rotations: declared ``"invariant"``, or trivial fields
    with no pixels to move (``(B, C)``, or ``(B, C, 1, 1)`` after global pooling)."""
    out_type = decl.out_type_for(y)
    return out_type is None or (not has_pixels(y) and out_type.is_trivial)


def _for_group(t: Transform, group: PointGroup) -> Transform:
    if isinstance(t, GroupElement) and t.group != group:
        t = Rotation(float(t.rotation * 360 / t.group.N), t.reflection)
    return as_transform(t, group) if isinstance(t, Rotation) else t


def _mode_name(mode: str, rf: ReceptiveField, asked_circular: bool) -> str:
    """The report's header for the shift mode (through upsampling, circular only when asked for)."""
    if mode == "circular" and (asked_circular or not rf.is_upsampling):
        return "circular"
    return "crop to the valid region"


def _measured_once(fn: Callable[..., EquivarianceReport]) -> Callable[..., EquivarianceReport]:
    """Run ``fn`` with one :func:`measurement_cache`: its shift rows share the upsampling grid and reach."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> EquivarianceReport:
        with measurement_cache():
            return fn(*args, **kwargs)

    return wrapper


@_measured_once
def equivariance_report(
    model: nn.Module,
    x: torch.Tensor | None = None,
    *,
    group: PointGroup | None = None,
    in_type: FieldType | int | None = None,
    out_type: FieldType | None = None,
    output: OutputKind | None = None,
    transforms: Iterable[Any] | None = None,
    angles: Sequence[float] = (),
    shifts: Iterable[tuple[int, int]] | None = None,
    size: int | None = None,
    baseline: Baseline = "auto",
    ratio: float = BASELINE_RATIO,
    rtol: float | None = None,
    shift_mode: ShiftMode = "auto",
    seed: int = 0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> EquivarianceReport:
    """Try every transform on ``model`` and collect the errors in a :class:`EquivarianceReport`.

    Args:
        model: any ``nn.Module`` mapping ``(B, C, H, W)`` tensors to tensors.
        x: an example input; its size decides what can be exact (e.g. stride 2
            needs odd sizes for exact rotations).  Default: band-limited noise
            ``(1, in_type.size, n, n)`` made on the CPU from ``seed``, in
            ``dtype`` on ``device`` (default: the model's), with ``n = size``
            or, without ``size``, the smallest size from 33 up (more for a large
            receptive field) at which every strided layer samples a symmetric
            grid (the rule of :func:`eqcnn.nn.exact_input_sizes`; e.g. 34 for a
            2x2 pool), searched up to 64 sizes above, then below (so a model that
            runs at one input size only within that range gets it).
        size: height and width of the generated input (give ``x`` or ``size``).
        group, in_type, out_type, output: the law to check (see :func:`equivariance_error`).
        transforms: what to try; default: every element of the group but the
            identity, plus shifts (``shifts``, default ``(s, 0), (0, s), (-s, 2s)``
            for total stride ``s``; through upsampling, ``s`` is the period of
            the downsampling before it) and ``angles`` (degrees).  Through
            upsampling the output must move by the upsampling factor times the
            shift.  Shifts are skipped, with the reason, through layers with a
            fixed output size (adaptive pooling to more than one pixel,
            ``Upsample(size=...)``) and for models whose output grid does not
            follow the input size (e.g. that run at one size only).
        baseline: ``"auto"`` (:func:`plain_baseline`), a module, a callable
            ``group -> model`` (called with ``Trivial()``) or ``None``.
        ratio: an approximate transform passes when its error is at most
            ``ratio`` times the baseline's (not applied to invariant outputs).
        rtol: tolerance of exact transforms; default ``TOLERANCES[dtype]``.

    For volumes (a group of space declared or in the model's types, or a 5-D
    ``x``) every element of the group is exact and the shifts are 3-tuples:
    see :mod:`eqcnn.testing._volume`; the generated input is Gaussian noise
    ``(1, C, n, n, n)`` with ``n = size`` or the smallest symmetric size from 12.

    Exact transforms (multiples of 90 degrees in G, reflections in Dihedral,
    shifts) pass below ``rtol``; off-grid elements of G are judged against the
    baseline, except where the output is invariant (declared ``"invariant"``,
    or trivial fields without pixels: ``(B, C)``, ``(B, C, 1, 1)``), where a
    globally pooled plain CNN is already nearly invariant and the ratio says
    nothing: those rows are reported with the baseline, as ``info`` with a note;
    angles outside G are reported with the baseline but not judged.
    """
    if is_volumetric(model, x, group, in_type, out_type):
        check_module("model", model)
        if angles:
            raise ValueError(f"`angles` (={list(angles)}) are for images; every element of a group of space is exact")
        planar = {k: v for k, v, d in (("baseline", baseline, "auto"), ("ratio", ratio, BASELINE_RATIO),
                                         ("shift_mode", shift_mode, "auto")) if v is not d and v != d}  # fmt: skip
        return volume_report(
            model, x, group=group, in_type=in_type, out_type=out_type, output=output, transforms=transforms,
            shifts=shifts, size=size, rtol=rtol, seed=check_int("seed", seed), dtype=dtype, device=device,
            planar_options=planar,
        )  # fmt: skip
    check_model_input(model, x)
    ratio = check_number("ratio", ratio, minimum=0)
    if rtol is not None:
        rtol = check_number("rtol", rtol, minimum=0)
    seed = check_int("seed", seed)
    if dtype is not None:
        check_dtype("dtype", dtype)
    angles = check_angles("angles", angles)
    if shifts is not None:
        shifts = check_shifts("shifts", shifts)
    if transforms is not None:
        transforms = check_transforms("transforms", transforms)
    decl = declare(
        model, group=group, in_type=in_type, out_type=out_type, output=output,
        channels=None if x is None else x.shape[-3],
    )  # fmt: skip
    C = decl.in_type.size
    if x is not None:
        if size is not None or dtype is not None or device is not None:
            raise ValueError("`size`, `dtype` and `device` describe the generated input; give them or `x`, not both")
        rf = receptive_field(model, tuple(x.shape))  # measured at the size tested
    else:
        if size is None:
            rf, n = _default_size(model, C)
        else:
            n = check_int("size", size, minimum=1)
            rf = receptive_field(model, (1, C, n, n))
        m_device, m_dtype = model_device_dtype(model)
        x = band_limited_noise((1, C, n, n), seed=seed, dtype=dtype or m_dtype, device=device or m_device)
    x = prepare_input(model, x)
    tol = tolerance(x.dtype) if rtol is None else float(rtol)
    mode = resolve_shift_mode(model, shift_mode)
    S = (1, 1) if rf.is_global else rf.stride  # a global output is compared under any shift
    if rf.is_upsampling and not rf.is_fixed_grid:  # through downsampling then upsampling: shifts by its period
        try:
            with eval_mode(model):
                period = upsampling_grid(model, x, _run)[0]
            S = (period, period)
        except (NotComparable, RuntimeError, ValueError):
            pass  # the shift rows say why
    if transforms is None:
        todo: list[Transform] = [g for g in decl.group.elements if g != decl.group.identity]
        shifts = [(S[0], 0), (0, S[1]), (-S[0], 2 * S[1])] if shifts is None else shifts
        todo += [Shift(*s) for s in shifts]
        todo += [as_transform(float(a), decl.group) for a in angles]
    else:
        todo = [as_transform(t, decl.group) for t in transforms]
    todo = list(dict.fromkeys(todo))  # an angle that is also an element is tried once
    base = _baseline_pair(model, decl, baseline)
    report = EquivarianceReport(
        model=type(model).__name__, input_shape=tuple(x.shape), dtype=x.dtype, device=x.device,
        law=decl.describe(), shift_mode=_mode_name(mode, rf, shift_mode == "circular"),
        receptive_field=rf, ratio=ratio,
    )  # fmt: skip
    rf_base: ReceptiveField | None = None
    invariant_rows = 0
    for t in todo:
        exact = is_exact(t)
        in_group = not isinstance(t, Rotation)
        row = ReportRow(transform_name(t), "exact" if exact else ("approx" if in_group else "extra"))
        report.rows.append(row)
        try:
            with eval_mode(model), no_tf32() if exact else nullcontext():
                out = compare(model, x, t, decl, mode, rf, shift_mode == "circular")
                row.rel_l2, row.max_abs, _ = errors(*out)
        except NotComparable as e:
            row.status, row.note = "skip", str(e)
            continue
        if exact:
            row.limit = tol
            row.status = "pass" if row.rel_l2 <= tol else "FAIL"
            continue
        if base is not None:
            b_model, b_decl = base
            try:
                if rf_base is None:
                    rf_base = receptive_field(b_model, tuple(x.shape))
                with eval_mode(b_model):
                    b_out = compare(
                        b_model, x, _for_group(t, b_decl.group), b_decl, mode, rf_base, shift_mode == "circular"
                    )
                row.baseline = errors(*b_out)[0]
            except NotComparable as e:
                row.note = f"baseline: {e}"
        if in_group and row.baseline is not None and is_invariant_output(decl, out[1]):
            row.status = "info"
            row.note = _INVARIANT_ROW + (f"; {row.note}" if row.note else "")
            invariant_rows += 1
        elif in_group and row.baseline is not None:
            row.limit = ratio * row.baseline
            row.status = "pass" if row.rel_l2 <= row.limit else "FAIL"
        else:
            row.status = "info"
    if invariant_rows:
        grid = [r for r in report.rows if r.kind == "exact" and not r.transform.startswith("shift")]
        judged = (
            "the exact rotations and flips judge it"
            if any(r.status in ("pass", "FAIL") for r in grid)
            else f"no rotation or flip of {decl.group!r} is exact on the pixel grid, so no rotation is judged here"
        )
        report.notes.append(_INVARIANT_NOTE.format(judged=judged))
    if rf.is_fixed_grid and any(r.transform.startswith("shift") for r in report.rows):
        layers = fixed_grid_layers(model)
        if layers:
            report.notes.append(
                f"{', '.join(layers)}: a fixed output size, which is not translation-equivariant; "
                "shifts are not compared"
            )
    if any(r.status == "FAIL" and r.kind == "exact" and not r.transform.startswith("shift") for r in report.rows):
        report.notes += grid_symmetry_problems(model, x)
    return report


def assert_equivariant(model: nn.Module, x: torch.Tensor | None = None, **kwargs: Any) -> EquivarianceReport:
    """Raise ``AssertionError`` with the report's table unless every judged transform passes.

    Also raises when nothing was judged (every transform skipped or only
    reported, e.g. an invariant output of ``Cyclic(3)`` with zero padding): an
    assertion that checked nothing must not pass.  Takes the arguments of
    :func:`equivariance_report` and returns the report.

    Example:
        >>> import eqcnn
        >>> from eqcnn import nn as enn
        >>> from eqcnn.testing import assert_equivariant
        >>> G = eqcnn.Dihedral(4)
        >>> report = assert_equivariant(enn.Conv2d(G.trivial(1), G.regular(1), 3, padding=1), size=9)
        >>> report.passed
        True
    """
    if not is_volumetric(model, x, kwargs.get("group"), kwargs.get("in_type"), kwargs.get("out_type")):
        check_model_input(model, x)
    report = equivariance_report(model, x, **kwargs)
    if not report.passed:
        raise AssertionError("model is not equivariant as declared\n" + str(report))
    if not report.judged:
        raise AssertionError(
            "nothing was judged: every transform was skipped or only reported (see the notes); give transforms, "
            "an input size or a shift mode that allow a check\n" + str(report)
        )
    return report
