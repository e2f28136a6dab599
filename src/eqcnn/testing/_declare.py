"""What a model's input and output are: field types from the model, given explicitly, or declared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from .._checks import check_choice, check_int, check_module, check_tensor_arg
from ..fields import FieldType
from ..groups import Cyclic, PointGroup
from ..nn import EquivariantModule

__all__ = ["Declaration", "OutputKind", "check_model_input", "declare", "input_channels"]

OutputKind = Literal["invariant", "image"]


def check_model_input(model: Any, x: Any = None, *, x_required: bool = False, batched: bool = False) -> None:
    """The harness' first check: ``model`` is an ``nn.Module`` and ``x`` (when given, or required) a floating
    point ``(B, C, H, W)`` tensor (or unbatched ``(C, H, W)`` unless ``batched``)."""
    check_module("model", model)
    if x is not None or x_required:
        layout = "(B, C, H, W)" if batched else "(B, C, H, W) or (C, H, W)"
        check_tensor_arg("x", x, (4,) if batched else (3, 4), layout, floating=True)


def input_channels(model: nn.Module) -> int:
    """Input channels of ``model``: ``model.in_type.size``, or the first convolution's ``in_channels``."""
    t = getattr(model, "in_type", None)
    if isinstance(t, FieldType):
        return t.size
    for m in model.modules():
        t = getattr(m, "in_type", None)
        if isinstance(t, FieldType):
            return t.size
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            return m.in_channels
    raise ValueError(f"cannot tell how many input channels {type(model).__name__} takes; pass `x` or `in_type`")


@dataclass(frozen=True)
class Declaration:
    """The law checked: ``model(in_type . x) == out . model(x)``.

    ``out_type`` is a FieldType, ``"invariant"`` (the output does not change,
    e.g. logits) or ``"image"`` (scalar fields whose pixels move with the input;
    the channel count is read from the output).
    """

    group: PointGroup
    in_type: FieldType
    out: FieldType | OutputKind

    def out_type_for(self, y: torch.Tensor) -> FieldType | None:
        """The output's FieldType for an output ``y`` (``None`` for invariant outputs)."""
        if self.out == "invariant":
            return None
        if self.out == "image":
            if y.dim() == 2:
                return None  # no pixels left: scalars that do not move
            return self.group.trivial(y.shape[-3])
        assert isinstance(self.out, FieldType)
        if y.dim() not in (2, 3, 4) or y.shape[-3 if y.dim() > 2 else -1] != self.out.size:
            raise ValueError(
                f"the output has shape {tuple(y.shape)}, which does not fit the output type "
                f"{self.out!r} ({self.out.size} channels); pass `out_type` or `output=` to say what the output is"
            )
        return self.out

    def describe(self) -> str:
        out = self.out if isinstance(self.out, str) else repr(self.out)
        return f"{self.in_type!r} -> {out}"


def declare(
    model: nn.Module,
    *,
    group: PointGroup | None = None,
    in_type: FieldType | int | None = None,
    out_type: FieldType | None = None,
    output: OutputKind | None = None,
    channels: int | None = None,
) -> Declaration:
    """Resolve what to check from explicit arguments, the model's ``in_type``/``out_type`` and defaults.

    Priority: explicit ``in_type``/``out_type`` > ``output`` declaration >
    ``model.in_type``/``model.out_type`` (or, for a container, the first
    eqcnn submodule's ``in_type`` and the last one's ``out_type``).  For a plain PyTorch model the input
    is ``group.trivial(C)`` (``C`` from ``channels``, i.e. the example input, or
    the first conv) and ``group`` defaults to ``Cyclic(4)``; the output defaults
    to ``"image"``, which becomes invariant when the output has no pixels.
    """
    check_module("model", model)
    if output is not None:
        check_choice("output", output, ("invariant", "image"))
    if group is not None and not isinstance(group, PointGroup):
        raise TypeError(f"`group` must be an eqcnn group (Trivial(), Cyclic(N), Dihedral(N)), got {group!r}")
    if channels is not None:
        check_int("channels", channels, minimum=1)
    model_in, model_out = model_types(model)
    if not isinstance(in_type, FieldType) and not isinstance(out_type, FieldType):
        model_in, model_out = _restricted_types(model, group, model_in, model_out)
    if isinstance(in_type, FieldType):
        g = in_type.group
    elif model_in is not None:
        g = model_in.group
    elif isinstance(out_type, FieldType):
        g = out_type.group
    else:
        g = group if group is not None else Cyclic(4)
    if not isinstance(g, PointGroup):
        raise TypeError(f"`group` must be an eqcnn group (Trivial, Cyclic, Dihedral), got {g!r}")
    if group is not None and group != g and not g.is_subgroup(group):
        raise ValueError(
            f"`group` (={group!r}) is neither the group of the field types ({g!r}) nor one of its subgroups"
        )

    if isinstance(in_type, FieldType):
        t_in = in_type
    elif isinstance(in_type, int) and not isinstance(in_type, bool):
        t_in = g.trivial(check_int("in_type", in_type, minimum=1))
    elif in_type is not None:
        raise TypeError(f"`in_type` must be a FieldType or a channel count, got {type(in_type).__name__}")
    elif model_in is not None:
        t_in = model_in
    else:
        t_in = g.trivial(channels if channels is not None else input_channels(model))

    out: FieldType | OutputKind
    if out_type is not None:
        if not isinstance(out_type, FieldType):
            raise TypeError(f"`out_type` must be a FieldType, got {type(out_type).__name__}")
        if output is not None:
            raise ValueError("give either `out_type` or `output`, not both")
        out = out_type
    elif output is not None:
        out = output
    elif model_out is not None:
        out = model_out
    else:
        out = "image"
    if isinstance(out, FieldType) and out.group != g:
        if not g.is_subgroup(out.group):
            raise ValueError(
                f"the output type's group {out.group!r} is neither the input type's group {g!r} nor one of its "
                "subgroups"
            )
        # a model with a restriction (enn.Restrict) inside: equivariant to the subgroup, so checked under it
        t_in, g = t_in.restrict(out.group), out.group
    if group is not None and group != g:  # checked under a subgroup of the types' group
        t_in, g = t_in.restrict(group), group
        if isinstance(out, FieldType):
            out = out.restrict(group)
    return Declaration(g, t_in, out)


def _restricted_types(
    model: nn.Module, group: PointGroup | None, model_in: FieldType | None, model_out: FieldType | None
) -> tuple[FieldType | None, FieldType | None]:
    """:func:`model_types` where some types are over a group eqcnn does not have (e.g. escnn's SO(2),
    through ``eqcnn.interop.escnn.EscnnFieldType``): those are seen through the subgroup ``group``.

    As in :func:`model_types`, the input type is the model's own or the first typed submodule's, the
    output type the model's own or the last typed submodule's; only a foreign one is restricted.
    """

    def foreign(t: Any) -> bool:
        return t is not None and not isinstance(t, FieldType) and hasattr(t, "restrict")

    def typed(t: Any) -> bool:
        return isinstance(t, FieldType) or foreign(t)

    # the model itself first, then eqcnn modules only (an escnn module's own escnn types are not the model's)
    mods = [m for m in model.modules() if m is model or isinstance(m, EquivariantModule)]
    ins: list[Any] = [getattr(m, "in_type", None) for m in mods if typed(getattr(m, "in_type", None))]
    outs: list[Any] = [getattr(m, "out_type", None) for m in mods[1:] if typed(getattr(m, "out_type", None))]
    own_out = getattr(model, "out_type", None)
    if typed(own_out) or (hasattr(model, "out_type") and own_out is None and isinstance(model_in, FieldType)):
        outs = [own_out]  # the model's own output type (None: an eqcnn container ending in plain modules)
    first: Any = ins[0] if ins else None
    last: Any = outs[-1] if outs else None
    if not foreign(first) and not foreign(last):
        return model_in, model_out
    if group is None:
        t = first if foreign(first) else last
        raise ValueError(
            f"{type(model).__name__}'s field types are over a group eqcnn does not have ({t!r}); pass "
            "`group` (e.g. group=eqcnn.Cyclic(8)) to check it through that subgroup"
        )
    return (
        first.restrict(group) if foreign(first) else model_in,
        last.restrict(group) if foreign(last) else model_out,
    )


def model_types(model: nn.Module) -> tuple[FieldType | None, FieldType | None]:
    """``in_type`` of the model or of its first eqcnn submodule, ``out_type`` of the model or its last one."""
    t_in: Any = getattr(model, "in_type", None)
    t_out: Any = getattr(model, "out_type", None)
    if isinstance(t_in, FieldType) and isinstance(t_out, FieldType):
        return t_in, t_out
    if isinstance(t_in, FieldType) and hasattr(model, "out_type") and t_out is None:
        # an eqcnn container that ends with plain modules: its output is untyped (invariant features),
        # not the type of its last typed layer
        return t_in, None
    typed = [m for m in model.modules() if isinstance(getattr(m, "in_type", None), FieldType)]
    if not isinstance(t_in, FieldType):
        t_in = typed[0].in_type if typed else None
    if not isinstance(t_out, FieldType):
        outs = [m.out_type for m in model.modules() if isinstance(getattr(m, "out_type", None), FieldType)]
        t_out = outs[-1] if outs else None
    return t_in, t_out


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    p: Any = next(model.parameters(), None)
    if p is None:
        p = next(model.buffers(), None)
    if p is None or not p.is_floating_point():
        return torch.device("cpu"), torch.get_default_dtype()
    return p.device, p.dtype
