"""Per-layer attribution: the equivariance error after each submodule, from forward hooks."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._checks import check_int
from ..fields import FieldType
from ..groups import PointGroup
from ..nn import EquivariantModule
from ._declare import OutputKind, check_model_input, declare
from ._inputs import band_limited_noise
from ._masks import disk_mask, soft_disk
from ._metrics import _FIXED_GRID, _UPSAMPLING, errors, has_pixels, prepare_input
from ._modes import eval_mode
from ._receptive_field import _IDENTITY, ReceptiveField, _is_transposed, fixed_grid_layers, receptive_field
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


def _atomic(m: nn.Module) -> bool:
    """An eqcnn layer recorded as a whole: an EquivariantModule without eqcnn modules inside (not a container)."""
    return (
        isinstance(m, EquivariantModule)
        and not isinstance(m, nn.Sequential)
        and not any(isinstance(d, EquivariantModule) for d in m.modules() if d is not m)
    )


def _selected(model: nn.Module) -> list[tuple[str, nn.Module, bool]]:
    """``(name, module, is_block)``: leaves and eqcnn layers (not their insides), found by descending into
    containers (eqcnn's ``Sequential``, ``ResidualBlock``, models, plain modules with children).  A container
    is a block: recorded after its children where its output is a new tensor (a residual sum), not where it
    returns a child's output (a ``Sequential``)."""
    out: list[tuple[str, nn.Module, bool]] = []

    def visit(prefix: str, m: nn.Module) -> None:
        children = list(m.named_children())
        if m is not model and (not children or _atomic(m)):
            out.append((prefix, m, False))
            return
        for n, c in children:
            visit(f"{prefix}.{n}" if prefix else n, c)
        if m is not model:
            out.append((prefix, m, True))

    visit("", model)
    return out


class _Grids:
    """Where each layer's output pixels sit relative to the model's input: the stride of every output (or that
    it is global, a fixed grid or upsampled), so that a shift of the input is compared with the right shift of
    each output.  Followed through the forward pass by tensor identity: a layer's output grid is its input's
    followed by the layer's own (:func:`receptive_field` of the layer alone, at the size it ran at)."""

    def __init__(self, x: torch.Tensor) -> None:
        self.known: list[tuple[torch.Tensor, ReceptiveField]] = [(x, _IDENTITY)]  # kept alive: ids stay unique
        self.events: list[tuple[nn.Module, torch.Tensor | None, torch.Tensor]] = []

    def hook(self, m: nn.Module, args: tuple, out: Any) -> None:
        if isinstance(out, torch.Tensor):
            inp = args[0] if args and isinstance(args[0], torch.Tensor) else None
            self.events.append((m, inp, out))

    def of(self, t: torch.Tensor) -> ReceptiveField | None:
        return next((rf for u, rf in reversed(self.known) if u is t), None)

    def same_size(self, t: torch.Tensor) -> ReceptiveField | None:
        """The latest known grid of a map of ``t``'s size (e.g. a residual sum: the grid of its branches)."""
        if t.dim() < 3:
            return None
        hw = tuple(t.shape[-2:])
        return next((rf for u, rf in reversed(self.known) if u.dim() >= 3 and tuple(u.shape[-2:]) == hw), None)

    def resolve(self) -> None:
        """Follow the grids through the recorded calls, in the order they finished (run without hooks)."""
        for m, inp, out in self.events:
            if self.of(out) is not None:  # a container returning its last child's output, an in-place layer
                continue
            rf: ReceptiveField | None = None
            if (inp is not None and not any(True for _ in m.children())) or _atomic(m):
                before = None if inp is None else (self.of(inp) or self.same_size(inp))
                if before is not None and out.dim() < 3:  # flattened: still global if it was
                    rf = before if before.is_global else None
                elif before is not None and inp is not None and inp.dim() >= 3:
                    try:
                        with torch.no_grad():
                            step = receptive_field(m, tuple(inp.shape))
                    except Exception:  # a layer that cannot be measured alone
                        step = None
                    rf = before.then(step) if step is not None else None
            if rf is None:
                rf = self.same_size(out)
            if rf is not None:
                self.known.append((out, rf))


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
    """The equivariance error after every layer, to see which layer breaks equivariance.

    Forward hooks record the output of each leaf module and each eqcnn layer,
    descending into containers (eqcnn's ``Sequential`` and ``ResidualBlock``,
    models such as ``SFCNN``, plain modules with children; rows are named like
    ``features.3``), for ``x`` and for ``g . x``; a container whose output is
    a new tensor (a residual sum) gets a row after its children.  Each recorded
    output is compared with ``g`` applied to it by its field type: the
    module's ``out_type`` when it has one, else the type of the previous output
    when the channel count still fits, else scalar fields (for plain models).
    ``g`` is a group element, an angle (degrees) or a shift; off-grid angles
    are compared inside the disk (whole for outputs without pixels: ``(B, C)``,
    ``(B, C, 1, 1)``), shifts circularly (so they suit circular padding),
    divided by the stride of each layer's output, which is followed through the
    model layer by layer (not guessed from its size): after global pooling the
    output must not change, and after a layer with a fixed output size or an
    upsampling layer shifts are not compared (the row says why).  The last row
    is the model's output.

    Example:
        >>> from torch import nn
        >>> from eqcnn.testing import layerwise_errors
        >>> net = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), nn.Conv2d(1, 1, 2, stride=2))
        >>> errs = layerwise_errors(net, size=9)
        >>> errs.first_above(1e-5).name
        '1'
    """
    check_model_input(model, x)
    size, seed = check_int("size", size, minimum=1), check_int("seed", seed)
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
    selected = _selected(model)
    xa = x.clone()  # the models get copies: an in-place first layer must not change x
    grids = _Grids(xa)
    Row = tuple[str, nn.Module, torch.Tensor, torch.Tensor]  # name, module, a copy of the output, the output
    records: dict[str, list[Row]] = {"a": [], "b": []}
    last: dict[str, Any] = {"a": None, "b": None}  # the last recorded output object, per run
    current = "a"

    def track(mod: nn.Module, args: tuple, out: Any) -> None:
        if current == "a":
            grids.hook(mod, args, out)

    def hook(name: str, block: bool):
        def fn(mod: nn.Module, args: tuple, out: Any) -> None:
            if not isinstance(out, torch.Tensor) or (block and out is last[current]):
                return  # a container that returns its last child's output: that row shows it
            last[current] = out
            # a copy: a later in-place layer (ReLU(inplace=True)) must not change what was recorded
            records[current].append((name, mod, out.detach().clone(), out))

        return fn

    handles = [m.register_forward_hook(track) for m in model.modules()]
    handles += [m.register_forward_hook(hook(n, b)) for n, m, b in selected]
    H, W = x.shape[-2:]
    try:
        with eval_mode(model), no_tf32() if exact else nullcontext():
            y = model(xa)
            current = "b"
            xt = shift(x, t.dy, t.dx) if isinstance(t, Shift) else act(t, x, decl.in_type)  # type: ignore[arg-type]
            yt = model(xt.clone())
    finally:
        for h in handles:
            h.remove()
    if len(records["a"]) != len(records["b"]):
        raise RuntimeError(
            f"the model ran {len(records['a'])} recorded layers on x but {len(records['b'])} on the transformed "
            "input; its layers depend on the input, so they cannot be compared one by one"
        )
    grids.resolve()
    resizes = bool(fixed_grid_layers(model)) or any(_is_transposed(m) for m in model.modules())
    result = LayerwiseErrors(transform_name(t))
    prev: FieldType | None = decl.in_type
    pairs = [(a, b[2]) for a, b in zip(records["a"], records["b"])]
    pairs.append((("(output)", model, y, y), yt))
    for (name, mod, a, obj), b in pairs:
        rf = grids.of(obj) or grids.same_size(obj)
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
                target, mask = _shifted(a, t, rf, (H, W), resizes), None
            else:
                target = act(t, a, ftype)  # type: ignore[arg-type]
                mask = disk_mask(a.shape[-2:], margin=1.0, device=a.device) if not exact and has_pixels(a) else None
            rel, mx, _ = errors(b, target, mask)
        except NotComparable as e:
            note = str(e)
        result.layers.append(LayerError(name, type(mod).__name__, tuple(a.shape), desc, rel, mx, note))
    return result


def _shifted(a: torch.Tensor, t: Shift, rf: ReceptiveField | None, hw: tuple[int, int], resizes: bool) -> torch.Tensor:
    """What the output ``a`` becomes when the input is shifted by ``t`` (circularly), by its grid ``rf``."""
    if rf is None:  # the grid was lost (an operation outside any module changed the size): from the sizes
        if a.dim() != 4:
            raise NotComparable("shifts need outputs with pixels")
        if resizes or hw[0] % a.shape[-2] or hw[1] % a.shape[-1]:
            raise NotComparable(
                f"the stride of this output ({a.shape[-2]}x{a.shape[-1]} from {hw[0]}x{hw[1]}) is not known: an "
                "operation outside any module made its input, or its layer could not be measured alone"
            )
        rf = ReceptiveField((1, 1), (hw[0] // a.shape[-2], hw[1] // a.shape[-1]), (0, 0))
    if rf.is_fixed_grid:
        raise NotComparable(_FIXED_GRID)
    if rf.is_upsampling:
        raise NotComparable(_UPSAMPLING)
    if rf.is_global:  # every output sees the whole (circularly shifted) input: it must not change
        return a
    if a.dim() != 4:
        raise NotComparable("shifts need outputs with pixels")
    s = rf.stride
    if t.dy % s[0] or t.dx % s[1]:
        stride = s[0] if s[0] == s[1] else s
        raise NotComparable(f"shift is not a multiple of the layer's stride {stride}")
    return shift(a, t.dy // s[0], t.dx // s[1])
