"""The harness for volumes: every element of an octahedral group and integer shifts, checked on ``(B, C, D, H, W)``.

Every element of ``Octahedral()`` and ``FullOctahedral()`` moves voxels onto
voxels, so each one is an exact transform, held to the dtype's tolerance like
a quarter turn on pixels; there are no approximate angles to judge against a
baseline.  Shifts are circular rolls of the input by a multiple of the model's
total stride, and the output must roll by the shift times the model's scale
(its transposed convolutions' strides over its strides, read from the layers
as they run).  Only the output voxels that neither the rolled-in slices nor
the zero padding reach are compared; they are found by sending NaNs through
the model from those slices (two forward passes per shifted axis), so the
comparison needs no knowledge of the layers (dilation, branches) and works for
any ``nn.Module``.

:func:`eqcnn.testing.equivariance_report` and :func:`~eqcnn.testing.assert_equivariant`
come here when the law to check is over a group of space, or the input is a
volume; the arguments and the report are theirs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import torch
from torch import nn

from .._checks import check_dtype, check_int, check_module, check_number
from ..fields import FieldType
from ..groups import GroupElement, PointGroup
from ._declare import Declaration, declare, model_device_dtype, model_types
from ._modes import eval_mode
from ._tolerance import no_tf32, tolerance

__all__ = ["is_volumetric", "volume_report"]


_VOLUME_LAYERS = (nn.Conv3d, nn.ConvTranspose3d, nn.MaxPool3d, nn.AvgPool3d, nn.BatchNorm3d, nn.AdaptiveAvgPool3d,
                  nn.AdaptiveMaxPool3d)  # fmt: skip


def is_volumetric(model: nn.Module, x: Any, group: Any, in_type: Any, out_type: Any) -> bool:
    """Whether the check is of volumes: a group of space declared or in the types, a 5-D input, or a model
    whose layers take volumes (``Conv3d`` over ``Trivial()``, ``torch.nn.Conv3d``...)."""
    check_module("model", model)  # (the harness' first check: before the model's types are read)
    for t in (in_type, out_type, *model_types(model)):
        if isinstance(t, FieldType) and t.group.spatial_dims == 3:
            return True
    if isinstance(group, PointGroup) and group.spatial_dims == 3:
        return True
    if isinstance(x, torch.Tensor):
        return x.dim() == 5
    return any(getattr(m, "spatial_dims", None) == 3 or isinstance(m, _VOLUME_LAYERS) for m in model.modules())


def _symmetric_sizes(model: nn.Module, channels: int, start: int) -> list[int]:
    """Cube sides from ``start`` up at which every strided layer samples a symmetric grid (a few of them)."""
    from ..nn import exact_input_sizes

    out: list[int] = []
    n = start
    while len(out) < 3 and n < start + 64:
        try:
            report = exact_input_sizes(model, (n, n, n), in_channels=channels, search=32)
        except ValueError:
            n += 1
            continue
        above = n if report.is_exact else (report.nearest[1][0] if report.nearest[1] is not None else None)
        if above is None:
            break
        out.append(int(above))
        n = max(int(above) + 1, 2 * int(above) - start)  # then larger: room for a deep receptive field
    return out or [start]


def _out_type(decl: Declaration, y: torch.Tensor) -> FieldType | None:
    """The output's type (``None``: invariant, compared as it is)."""
    if decl.out == "invariant":
        return None
    if decl.out == "image":
        return decl.group.trivial(y.shape[1]) if y.dim() == 5 else None
    assert isinstance(decl.out, FieldType)
    if y.dim() not in (2, 5) or y.shape[1] != decl.out.size:
        raise ValueError(
            f"the output has shape {tuple(y.shape)}, which does not fit the output type {decl.out!r}: expected "
            f"(B, {decl.out.size}, D, H, W) or (B, {decl.out.size}); pass `out_type` or `output=` to say what the "
            "output is"
        )
    return decl.out


def _act(t: FieldType | None, y: torch.Tensor, g: GroupElement) -> torch.Tensor:
    if t is None:
        return y
    if y.dim() == 2:  # fibres only
        return t.transform_fibres(y[:, :, None, None, None], g)[:, :, 0, 0, 0]
    return t.transform(y, g)


def _errors(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> tuple[float, float]:
    if mask is not None:
        a, b = a[..., mask], b[..., mask]
    ref = float(b.double().norm())
    diff = a.double() - b.double()
    rel = float(diff.norm()) / ref if ref > 0 else float(diff.norm())
    return rel, float(diff.abs().max()) if diff.numel() else 0.0


def _scale(model: nn.Module, x: torch.Tensor) -> tuple[int, Fraction]:
    """(total stride, output shift per input voxel): strides divide, transposed convs' strides multiply.

    Read from the layers as the model runs on ``x``: the product of the strides met, each (input side,
    stride) once, so a residual block's strided body and shortcut count once (branches that reach the
    output at different scales are not told apart).
    """
    from ..nn._exactness import _module_dims, _sampling

    seen: set[tuple[str, int, int]] = set()  # (direction, input side, stride): parallel branches count once
    handles = []

    def hook(mod: nn.Module, args: Any) -> None:
        info = _sampling(mod)
        if info is None or _module_dims(mod) != 3 or not args or not isinstance(args[0], torch.Tensor):
            return
        stride = mod.stride if isinstance(mod.stride, int) else mod.stride[0]  # type: ignore[union-attr,index]
        up = isinstance(mod, nn.ConvTranspose3d) or type(mod).__name__.startswith("ConvTranspose")
        seen.add(("up" if up else "down", int(args[0].shape[-1]), int(stride if up else info[1][0])))

    for m in model.modules():
        if _sampling(m) is not None:
            handles.append(m.register_forward_pre_hook(hook))
    try:
        with eval_mode(model), no_tf32():
            model(x)
    finally:
        for h in handles:
            h.remove()
    down = math.prod(s for d, _, s in seen if d == "down")
    up = math.prod(s for d, _, s in seen if d == "up")
    return down, Fraction(up, down)


def _nan_free(model: nn.Module, x: torch.Tensor, axis: int, where: list[int]) -> torch.Tensor | None:
    """The output voxels that no NaN reaches from the input slices ``where`` of ``axis`` (``None``: no voxels)."""
    probe = torch.zeros_like(x)
    idx: list[Any] = [slice(None)] * x.dim()
    idx[axis] = where
    probe[tuple(idx)] = float("nan")
    with eval_mode(model):
        y = model(probe)
    if y.dim() != 5:
        return None
    return ~torch.isnan(y).flatten(0, 1).any(dim=0)


def _shift_mask(model: nn.Module, x: torch.Tensor, axis: int, t: int, out_shift: int) -> torch.Tensor | None:
    """Output voxels where ``model(roll(x, t))`` must equal ``roll(model(x), out_shift)`` along ``axis``.

    With ``t > 0`` the rolled input is the translated one except on the slices
    ``[0, t)``, wrapped in from the far end, and the translated one reads the
    zero padding where the original reads its last slices ``[n - t, n)``: an
    output voxel is compared when its receptive field in the rolled input
    misses ``[0, t)`` and the reference's receptive field misses ``[n - t, n)``
    (then both read the same data and the same padding).  NaNs sent from those
    slices mark the voxels that see them; no assumption on the shape of a
    receptive field (dilation, branches) is made.  (``t < 0``: the mirror image.)
    """
    n = x.shape[axis]
    wrapped, lost = (list(range(t)), list(range(n - t, n))) if t > 0 else (list(range(n + t, n)), list(range(-t)))
    rolled = _nan_free(model, x, axis, wrapped)
    ref = _nan_free(model, x, axis, lost)
    if rolled is None or ref is None:
        return None
    # the reference's voxel j is compared at j + out_shift: moved, not rolled (nothing wraps in from the far end)
    moved = torch.zeros_like(ref)
    n_out, d = ref.shape[axis - 2], out_shift
    if abs(d) < n_out:
        src = ref.narrow(axis - 2, max(0, -d), n_out - abs(d))
        moved.narrow(axis - 2, max(0, d), n_out - abs(d)).copy_(src)
    return rolled & moved


def _check_transform(t: Any, group: PointGroup, n: int) -> GroupElement | tuple[int, int, int]:
    if isinstance(t, GroupElement):
        if t.group != group:
            raise ValueError(f"`transforms` holds {t!r}, which is not an element of {group!r}")
        return t
    if (
        not isinstance(t, (tuple, list))
        or len(t) != 3
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in t)
    ):
        raise ValueError(
            f"`transforms`/`shifts`: a shift of a volume is a tuple (dd, dh, dw) of 3 ints and a rotation an element "
            f"of {group!r}, got {t!r}"
        )
    if any(abs(int(v)) >= n for v in t):
        raise ValueError(f"`transforms`/`shifts`: the shift {tuple(t)!r} must be smaller than the input's side {n}")
    return (int(t[0]), int(t[1]), int(t[2]))


def volume_report(
    model: nn.Module,
    x: torch.Tensor | None,
    *,
    group: PointGroup | None,
    in_type: FieldType | int | None,
    out_type: FieldType | None,
    output: Any,
    transforms: Iterable[Any] | None,
    shifts: Iterable[tuple[int, ...]] | None,
    size: int | None,
    rtol: float | None,
    seed: int,
    dtype: torch.dtype | None,
    device: Any,
    planar_options: dict[str, Any] | None = None,
):
    """:func:`eqcnn.testing.equivariance_report` for volumes (see the module documentation)."""
    from ._report import EquivarianceReport, ReportRow

    for name, value in (planar_options or {}).items():
        raise ValueError(
            f"`{name}` (={value!r}) is for images (off-grid angles, shift modes); every element of a group of "
            "space is exact and shifts of volumes are circular rolls compared away from the borders"
        )
    if x is not None:
        if not isinstance(x, torch.Tensor) or x.dim() not in (4, 5) or not x.is_floating_point():
            got = f"shape {tuple(x.shape)}, dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"`x` must be a floating point volume (B, C, D, H, W) or (C, D, H, W) for a model of volumes, got {got}"
            )
        if size is not None or dtype is not None or device is not None:
            raise ValueError("`size`, `dtype` and `device` describe the generated input; give them or `x`, not both")
    if rtol is not None:
        rtol = check_number("rtol", rtol, minimum=0)
    if dtype is not None:
        check_dtype("dtype", dtype)
    channels = None if x is None else int(x.shape[-4])  # (else the model's: declare() reads its first conv)
    typed = any(isinstance(t, FieldType) for t in (in_type, out_type, *model_types(model)))
    if group is None and not typed:  # a plain model of volumes: checked under the rotations of the cube
        from ..groups import Octahedral

        group = Octahedral()
    decl = declare(model, group=group, in_type=in_type, out_type=out_type, output=output, channels=channels)
    if decl.group.spatial_dims == 2:
        raise ValueError(
            f"the input is a volume but the group to check, {decl.group!r}, acts on the plane; pass "
            "group=eqcnn.Octahedral() or FullOctahedral()"
        )
    C = decl.in_type.size
    todo_given = None if transforms is None else list(transforms)
    shifts_given = None if shifts is None else list(shifts)
    sizes: list[int | None]
    if x is not None:
        sizes = [None]
    elif size is not None:
        sizes = [check_int("size", size, minimum=1)]
    else:  # the smallest symmetric size from 12; a larger one if no output voxel is free of the borders there
        sizes = list(_symmetric_sizes(model, C, 12))
    for attempt, n in enumerate(sizes):
        report = _one_volume_report(
            model, x, decl, n, todo_given, shifts_given, rtol, seed, dtype, device, EquivarianceReport, ReportRow
        )
        shift_rows = [r for r in report.rows if r.transform.startswith("shift")]
        if attempt + 1 == len(sizes) or not shift_rows or any(r.status != "skip" for r in shift_rows):
            return report
    return report


def _one_volume_report(model, x, decl, n, transforms, shifts, rtol, seed, dtype, device, report_cls, row_cls):
    C = decl.in_type.size
    if x is None:
        m_device, m_dtype = model_device_dtype(model)
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(1, C, n, n, n, generator=gen, dtype=torch.float64)  # on the CPU, then moved
        x = x.to(device=device or m_device, dtype=dtype or m_dtype)
    if x.dim() == 4:
        x = x[None]
    side = x.shape[-1]
    if decl.group.order > 1 and len(set(x.shape[-3:])) > 1:
        raise ValueError(
            f"`x` must be a cube for {decl.group!r} (its rotations exchange the axes), got spatial shape "
            f"{tuple(x.shape[-3:])}"
        )
    tol = tolerance(x.dtype) if rtol is None else float(rtol)
    with eval_mode(model), no_tf32():
        y = model(x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"the model must return a tensor, got {type(y).__name__}")
    t_out = _out_type(decl, y)
    stride, scale = _scale(model, x)
    todo: list[Any]
    if transforms is None:
        todo = [g for g in decl.group.elements if g != decl.group.identity]
        default = [(stride, 0, 0), (0, stride, 0), (0, 0, stride), (-stride, stride, stride)]
        if shifts is not None:
            todo += [_check_transform(s, decl.group, side) for s in shifts]
        else:  # (a default shift the input is too small for is reported as skipped, not refused)
            todo += [s for s in default if max(abs(v) for v in s) < side]
    else:
        todo = [_check_transform(t, decl.group, side) for t in transforms]
    report = report_cls(
        model=type(model).__name__, input_shape=tuple(x.shape), dtype=x.dtype, device=x.device,
        law=decl.describe(), shift_mode="circular rolls, compared where the borders and the rolled-in slices do not "
        "reach", receptive_field=None, ratio=0.0,
    )  # fmt: skip
    for t in todo:
        mask = None
        if isinstance(t, GroupElement):
            row = row_cls(repr(t), "exact")
            report.rows.append(row)
            with eval_mode(model), no_tf32():
                a = model(decl.in_type.transform(x, t))
                b = _act(t_out, y, t)
        else:
            row = row_cls(f"shift {tuple(t)}", "exact")
            report.rows.append(row)
            if y.dim() != 5:
                row.status, row.note = "skip", "the output has no voxels: shifts are not compared"
                continue
            outs = [v * scale for v in t]
            if any(o.denominator != 1 for o in outs):
                row.status, row.note = "skip", f"not a multiple of the total stride {stride}"
                continue
            out_shift = tuple(int(o) for o in outs)
            x_t = torch.roll(x, shifts=t, dims=(2, 3, 4))
            with eval_mode(model), no_tf32():
                a = model(x_t)
                b = torch.roll(y, shifts=out_shift, dims=(2, 3, 4))
            mask = torch.ones(y.shape[2:], dtype=torch.bool, device=y.device)
            for axis, (v, o) in enumerate(zip(t, out_shift)):
                if v:
                    m = _shift_mask(model, x, axis + 2, v, o)
                    if m is None:
                        mask = None
                        break
                    mask = mask & m
            if mask is None or not mask.any():
                row.status, row.note = "skip", "no output voxel is free of the border and the rolled-in slices"
                continue
        row.rel_l2, row.max_abs = _errors(a, b, mask)
        row.limit = tol
        row.status = "pass" if row.rel_l2 <= tol else "FAIL"
    shift_rows = [r for r in report.rows if r.transform.startswith("shift")]
    if y.dim() == 5 and shift_rows and all(r.status == "skip" for r in shift_rows):
        report.notes.append(
            "no shift was judged: every output voxel sees the border or the rolled-in slices (a global operation, "
            "or an input too small for the receptive field); give a larger `size` or `x` to check translations"
        )
    if any(r.status == "FAIL" and not r.transform.startswith("shift") for r in report.rows):
        from ..nn import exact_input_sizes

        try:
            ex = exact_input_sizes(model, tuple(x.shape[-3:]), in_channels=C, search=16)
            if not ex.is_exact:
                report.notes.append(
                    f"strided layers sample an asymmetric grid at this input size, so the rotations cannot be "
                    f"exact: {'; '.join(s.name for s in ex.breaking_steps)}; nearest exact sizes: below "
                    f"{ex.nearest[0]}, above {ex.nearest[1]}"
                )
        except ValueError:
            pass
    return report
