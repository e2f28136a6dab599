"""Error against rotation angle, for a model and its baseline (the data behind eqcnn.plots)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._checks import check_int
from ..fields import FieldType
from ..groups import PointGroup
from ._declare import OutputKind, check_model_input, declare
from ._inputs import band_limited_noise
from ._metrics import ShiftMode, compare, errors, prepare_input, resolve_shift_mode
from ._modes import eval_mode
from ._report import Baseline, _baseline_pair, _for_group
from ._tolerance import no_tf32
from ._transforms import NotComparable, as_transform, check_angles, is_exact

__all__ = ["AngleCurve", "error_by_angle"]


@dataclass(frozen=True)
class AngleCurve:
    """Relative L2 error per angle (degrees) for the model and its baseline (``nan``: not comparable)."""

    angles: list[float]
    model: list[float]
    baseline: list[float] | None
    group: str


def error_by_angle(
    model: nn.Module,
    x: torch.Tensor | None = None,
    angles: Sequence[float] = tuple(range(0, 361, 5)),
    *,
    group: PointGroup | None = None,
    in_type: FieldType | int | None = None,
    out_type: FieldType | None = None,
    output: OutputKind | None = None,
    baseline: Baseline = "auto",
    size: int = 33,
    seed: int = 0,
    shift_mode: ShiftMode = "auto",
) -> AngleCurve:
    """The equivariance error at each angle in ``angles`` (degrees), next to the baseline's.

    Angles in the group act through the field types; other angles move pixels
    only, so for a full curve the output should be invariant or scalar fields.

    Example:
        >>> from torch import nn
        >>> from eqcnn.testing import error_by_angle
        >>> curve = error_by_angle(nn.Conv2d(1, 1, 3, padding=1), angles=[0, 90], size=9, baseline=None)
        >>> curve.model[0], curve.model[1] > 0.01
        (0.0, True)
    """
    check_model_input(model, x)
    size, seed = check_int("size", size, minimum=1), check_int("seed", seed)
    angles = check_angles("angles", angles)
    decl = declare(model, group=group, in_type=in_type, out_type=out_type, output=output,
                   channels=None if x is None else x.shape[-3])  # fmt: skip
    if x is None:
        x = band_limited_noise((1, decl.in_type.size, size, size), seed=seed)
    x = prepare_input(model, x)
    mode = resolve_shift_mode(model, shift_mode)
    base = _baseline_pair(model, decl, baseline)

    def one(m: nn.Module, d: Any, t: Any) -> float:
        try:
            with eval_mode(m), no_tf32() if is_exact(t) else nullcontext():
                return errors(*compare(m, x, t, d, mode, None, shift_mode == "circular"))[0]
        except NotComparable:
            return float("nan")

    ys, bs = [], []
    for a in angles:
        t = as_transform(float(a), decl.group)
        ys.append(one(model, decl, t))
        if base is not None:
            bs.append(one(base[0], base[1], _for_group(t, base[1].group)))
    return AngleCurve([float(a) for a in angles], ys, bs if base is not None else None, repr(decl.group))
