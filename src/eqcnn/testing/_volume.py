"""The harness for volumes: every element of an octahedral group and integer shifts, checked on ``(B, C, D, H, W)``.

Every element of ``Octahedral()`` and ``FullOctahedral()`` moves voxels onto
voxels, so each one is an exact transform, held to the dtype's tolerance like
a quarter turn on pixels; there are no approximate angles to judge against a
baseline.  Shifts are circular rolls of the input by a multiple of the model's
total stride, compared away from the borders and the seam of the roll: the
voxels whose value depends on either are found by propagating NaNs from them
through the model (one forward pass per shifted axis), so the comparison needs
no knowledge of the layers and works for any ``nn.Module``.

:func:`eqcnn.testing.equivariance_report` and :func:`~eqcnn.testing.assert_equivariant`
come here when the law to check is over a group of space, or the input is a
volume; the arguments and the report are theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from .._checks import check_int, check_module
from ..fields import FieldType
from ..groups import GroupElement, PointGroup
from ._declare import Declaration, declare, model_device_dtype, model_types
from ._modes import eval_mode
from ._tolerance import no_tf32, tolerance

__all__ = ["is_volumetric", "volume_report"]


def is_volumetric(
    model: nn.Module, x: Any, group: Any, in_type: Any, out_type: Any
) -> bool:  # fmt: skip
    """Whether the check is of volumes: a group of space declared or in the types, or a 5-D input."""
    check_module("model", model)  # (the harness' first check: before the model's types are read)
    for t in (in_type, out_type, *model_types(model)):
        if isinstance(t, FieldType) and t.group.spatial_dims == 3:
            return True
    if isinstance(group, PointGroup) and group.spatial_dims == 3:
        return True
    return isinstance(x, torch.Tensor) and x.dim() == 5


def _first_volume_channels(model: nn.Module) -> int | None:
    for m in model.modules():
        t = getattr(m, "in_type", None)
        if isinstance(t, FieldType):
            return t.size
        if isinstance(m, nn.Conv3d):
            return m.in_channels
    return None


def _default_size(model: nn.Module, channels: int) -> int:
    """The smallest cube side from 12 up at which every strided layer samples a symmetric grid."""
    from ..nn import exact_input_sizes

    try:
        report = exact_input_sizes(model, (12, 12, 12), in_channels=channels, search=24)
    except ValueError:
        return 12
    above = report.nearest[1]
    return 12 if report.is_exact or above is None else int(above[0])


def _out_type(decl: Declaration, y: torch.Tensor) -> FieldType | None:
    """The output's type (``None``: invariant, compared as it is)."""
    if decl.out == "invariant" or y.dim() < 5:
        if isinstance(decl.out, FieldType) and y.dim() == 2:
            return decl.out  # (B, C) fibres of a field without voxels: transformed by their representation
        return None
    if decl.out == "image":
        return decl.group.trivial(y.shape[1])
    assert isinstance(decl.out, FieldType)
    if y.shape[1] != decl.out.size:
        raise ValueError(
            f"the output has shape {tuple(y.shape)}, which does not fit the output type {decl.out!r} "
            f"({decl.out.size} channels); pass `out_type` or `output=` to say what the output is"
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


def _shift_mask(model: nn.Module, x: torch.Tensor, axis: int, t: int, stride: int) -> torch.Tensor | None:
    """Output voxels where ``model(roll(x, t))`` must equal ``roll(model(x), t / stride)`` along ``axis``.

    The rolled input agrees with the translated one except on the ``|t|``
    slices wrapped in; an output voxel is compared when its receptive field
    misses them and the zero padding, in both outputs.  NaN probes find them:
    a receptive field that reaches the padding holds the first or last slice
    (it is contiguous), so a NaN in the wrapped slices and the opposite
    border slice marks the rolled output's bad voxels, and a NaN in both
    border slices, rolled, the reference's (one border slice more than
    needed: conservative, never wrong).
    """
    n = x.shape[axis]
    wrapped = [*range(t), n - 1] if t > 0 else [*range(n + t, n), 0]
    rolled = _nan_free(model, x, axis, wrapped)
    ref = _nan_free(model, x, axis, [0, n - 1])
    if rolled is None or ref is None:
        return None
    return rolled & torch.roll(ref, shifts=t // stride, dims=axis - 2)


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
):
    """:func:`eqcnn.testing.equivariance_report` for volumes (see the module documentation)."""
    from ._report import EquivarianceReport, ReportRow

    if x is not None and (not isinstance(x, torch.Tensor) or x.dim() not in (4, 5)):
        raise ValueError(
            f"`x` must be a volume (B, C, D, H, W) or (C, D, H, W) for a model of volumes, got "
            f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}"
        )
    channels = None if x is None else int(x.shape[-4])
    if channels is None and not isinstance(in_type, (FieldType, int)):
        channels = _first_volume_channels(model)
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
    if x is None:
        n = check_int("size", size, minimum=1) if size is not None else _default_size(model, C)
        m_device, m_dtype = model_device_dtype(model)
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(1, C, n, n, n, generator=gen, dtype=torch.float64)  # on the CPU, then moved
        x = x.to(device=device or m_device, dtype=dtype or m_dtype)
    elif size is not None or dtype is not None or device is not None:
        raise ValueError("`size`, `dtype` and `device` describe the generated input; give them or `x`, not both")
    if x.dim() == 4:
        x = x[None]
    tol = tolerance(x.dtype) if rtol is None else float(rtol)
    with eval_mode(model), no_tf32():
        y = model(x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"the model must return a tensor, got {type(y).__name__}")
    t_out = _out_type(decl, y)
    stride = 1
    if y.dim() == 5:
        stride = max(1, round(x.shape[-1] / y.shape[-1]))
    todo: list[Any]
    if transforms is None:
        todo = [g for g in decl.group.elements if g != decl.group.identity]
        todo += [tuple(s) for s in (shifts if shifts is not None else
                 [(stride, 0, 0), (0, stride, 0), (0, 0, stride), (-stride, stride, stride)])]  # fmt: skip
    else:
        todo = list(transforms)
    report = EquivarianceReport(
        model=type(model).__name__, input_shape=tuple(x.shape), dtype=x.dtype, device=x.device,
        law=decl.describe(), shift_mode="circular rolls, compared away from the borders and the seam",
        receptive_field=None, ratio=0.0,
    )  # fmt: skip
    for t in todo:
        if isinstance(t, GroupElement):
            if t.group != decl.group:
                raise ValueError(f"`transforms` holds {t!r}, which is not an element of {decl.group!r}")
            row = ReportRow(repr(t), "exact")
            report.rows.append(row)
            try:
                x_g = decl.in_type.transform(x, t)
            except ValueError as e:
                row.status, row.note = "skip", str(e)
                continue
            with eval_mode(model), no_tf32():
                a = model(x_g)
                b = _act(t_out, y, t)
            mask = None
        else:
            if len(t) != 3 or not all(isinstance(v, int) for v in t):
                raise ValueError(f"a shift of a volume is a tuple (dd, dh, dw) of 3 ints, got {t!r}")
            row = ReportRow(f"shift {tuple(t)}", "exact")
            report.rows.append(row)
            if y.dim() != 5:
                row.status, row.note = "skip", "the output has no voxels: shifts are not compared"
                continue
            if any(v % stride for v in t):
                row.status, row.note = "skip", f"not a multiple of the total stride {stride}"
                continue
            x_t = torch.roll(x, shifts=t, dims=(2, 3, 4))
            with eval_mode(model), no_tf32():
                a = model(x_t)
                b = torch.roll(y, shifts=tuple(v // stride for v in t), dims=(2, 3, 4))
            mask = torch.ones(y.shape[2:], dtype=torch.bool, device=y.device)
            for axis, v in enumerate(t):
                if v:
                    m = _shift_mask(model, x, axis + 2, v, stride)
                    if m is None:
                        mask = None
                        break
                    mask = mask & m
            if mask is None or not mask.any():
                row.status, row.note = "skip", "no output voxel is free of the border and the seam"
                continue
        with nullcontext():
            row.rel_l2, row.max_abs = _errors(a, b, mask)
        row.limit = tol
        row.status = "pass" if row.rel_l2 <= tol else "FAIL"
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
