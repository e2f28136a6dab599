"""Per-layer attribution: the equivariance error after each submodule, from forward hooks."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..fields import FieldType
from ..groups import PointGroup
from ..nn import EquivariantModule
from ._declare import OutputKind, declare
from ._inputs import band_limited_noise
from ._masks import disk_mask, soft_disk
from ._metrics import _Eval, errors, prepare_input
from ._tolerance import no_tf32
from ._transforms import NotComparable, Shift, act, as_transform, is_exact, shift, transform_name

__all__ = ["LayerError", "LayerwiseErrors", "layerwise_errors"]


@dataclass(frozen=True)
class LayerError:
    """The error of one submodule's output (``rel_l2``/``max_abs`` are ``None`` when not comparable)."""

    name: str
    module: str
    shape: tuple[int, ...]
    field_type: str
    rel_l2: float | None
    max_abs: float | None
    note: str = ""


@dataclass
class LayerwiseErrors:
    """Errors after each submodule in the order they ran; ``str()`` gives a table."""

    transform: str
    layers: list[LayerError] = field(default_factory=list)

    def first_above(self, threshold: float) -> LayerError | None:
        """The first layer whose relative error exceeds ``threshold`` (where equivariance breaks)."""
        return next((e for e in self.layers if e.rel_l2 is not None and e.rel_l2 > threshold), None)

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __str__(self) -> str:
        head = ("layer", "module", "shape", "type", "rel L2", "max abs")
        body = [
            (
                e.name, e.module, "x".join(map(str, e.shape)), e.field_type,
                "-" if e.rel_l2 is None else f"{e.rel_l2:.2e}",
                ("-" if e.max_abs is None else f"{e.max_abs:.2e}") + (f"  ({e.note})" if e.note else ""),
            )
            for e in self.layers
        ]  # fmt: skip
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head) - 1)]
        lines = [f"error after each layer under {self.transform}"]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in [head, *body]]
        return "\n".join(lines)


def _selected(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaves and eqcnn modules, without descending into eqcnn modules."""
    out: list[tuple[str, nn.Module]] = []

    def visit(prefix: str, m: nn.Module) -> None:
        children = list(m.named_children())
        if (isinstance(m, EquivariantModule) or not children) and m is not model:
            out.append((prefix, m))
            return
        for n, c in children:
            visit(f"{prefix}.{n}" if prefix else n, c)

    visit("", model)
    return out


def layerwise_errors(
    model: nn.Module,
    x: torch.Tensor | None = None,
    g: Any = 90.0,
    *,
    group: PointGroup | None = None,
    in_type: FieldType | int | None = None,
    out_type: FieldType | None = None,
    output: OutputKind | None = None,
    size: int = 33,
    seed: int = 0,
) -> LayerwiseErrors:
    """The equivariance error after every submodule, to see which layer breaks equivariance.

    Forward hooks record the output of each leaf module and each eqcnn module
    for ``x`` and for ``g . x``; each recorded output is compared with ``g``
    applied to it by its field type: the module's ``out_type`` when it has
    one, else the type of the previous output when the channel count still
    fits, else scalar fields (for plain models).  ``g`` is a group element, an
    angle (degrees) or a shift; off-grid angles are compared inside the disk,
    shifts circularly (so they suit circular padding) and scaled by each
    layer's stride.  The last row is the model's output.

    Example:
        >>> from torch import nn
        >>> from eqcnn.testing import layerwise_errors
        >>> net = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), nn.Conv2d(1, 1, 2, stride=2))
        >>> errs = layerwise_errors(net, size=9)
        >>> errs.first_above(1e-5).name
        '1'
    """
    decl = declare(
        model,
        group=group,
        in_type=in_type,
        out_type=out_type,
        output=output,
        channels=None if x is None else x.shape[-3],
    )
    if x is None:
        x = band_limited_noise((1, decl.in_type.size, size, size), seed=seed)
    x = prepare_input(model, x)
    t = as_transform(g, decl.group)
    exact = is_exact(t)
    if not exact:
        x = x * soft_disk(x.shape[-2:], device=x.device).to(x.dtype)
    mods = _selected(model)
    records: dict[str, list[tuple[str, nn.Module, torch.Tensor]]] = {"a": [], "b": []}
    current = "a"

    def hook(name: str):
        def fn(mod: nn.Module, args: tuple, out: Any) -> None:
            if isinstance(out, torch.Tensor):
                records[current].append((name, mod, out))

        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in mods]
    H = x.shape[-2]
    try:
        with _Eval(model), no_tf32() if exact else nullcontext():
            y = model(x)
            current = "b"
            xt = shift(x, t.dy, t.dx) if isinstance(t, Shift) else act(t, x, decl.in_type)  # type: ignore[arg-type]
            yt = model(xt)
    finally:
        for h in handles:
            h.remove()
    result = LayerwiseErrors(transform_name(t))
    prev: FieldType | None = decl.in_type
    pairs = list(zip(records["a"], records["b"]))
    pairs.append((("(output)", model, y), ("(output)", model, yt)))
    for (name, mod, a), (_, _, b) in pairs:
        ftype: FieldType | None
        if mod is model:
            explicit = (
                output is not None or out_type is not None or isinstance(getattr(model, "out_type", None), FieldType)
            )
            fits = prev is not None and a.dim() >= 2 and a.shape[1] == prev.size
            ftype = decl.out_type_for(a) if explicit or not fits else prev
        elif isinstance(getattr(mod, "out_type", None), FieldType):
            ftype = mod.out_type  # type: ignore[assignment]
        elif a.dim() >= 2 and prev is not None and a.shape[1] == prev.size:
            ftype = prev
        elif a.dim() in (2, 4):
            ftype = decl.group.trivial(a.shape[1])
        else:
            ftype = None
        prev = ftype
        desc = repr(ftype) if ftype is not None else "invariant"
        rel = mx = None
        note = ""
        try:
            if a.dim() not in (2, 4):
                raise NotComparable(f"output of shape {tuple(a.shape)} is neither (B, C) nor (B, C, H, W)")
            if isinstance(t, Shift):
                if a.dim() != 4:
                    raise NotComparable("shifts need outputs with pixels")
                s = max(1, round(H / a.shape[-2]))
                if t.dy % s or t.dx % s:
                    raise NotComparable(f"shift is not a multiple of the layer's stride {s}")
                target, mask = shift(a, t.dy // s, t.dx // s), None
            else:
                target = act(t, a, ftype)  # type: ignore[arg-type]
                mask = disk_mask(a.shape[-2:], margin=1.0, device=a.device) if not exact and a.dim() == 4 else None
            rel, mx, _ = errors(b, target, mask)
        except NotComparable as e:
            note = str(e)
        result.layers.append(LayerError(name, type(mod).__name__, tuple(a.shape), desc, rel, mx, note))
    return result
