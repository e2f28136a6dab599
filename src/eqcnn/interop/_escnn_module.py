"""EscnnModule: any escnn EquivariantModule as an eqcnn module over plain tensors.

escnn groups that eqcnn has (C_N, D_N, SO(2), O(2)) get eqcnn ``FieldType``s;
the others (fields eqcnn cannot express, e.g. a mirror about another axis) get
an :class:`EscnnFieldType`, a small adapter with ``size`` and ``transform`` that
defers to escnn, and which can be restricted to an eqcnn subgroup
(``Cyclic(N)``, ``Dihedral(N)``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._checks import check_tensor
from ..fields import FieldType
from ..groups import GroupElement, PointGroup
from ..nn import EquivariantModule
from ._escnn import _kind, escnn, escnn_element, from_escnn_type, gspace_of, is_mappable

__all__ = ["EscnnFieldType", "EscnnModule"]


class EscnnFieldType:
    """An escnn field type that has no eqcnn counterpart (e.g. over SO(2) or O(2)), seen from eqcnn.

    It offers what eqcnn's layers and harness read from a field type:
    ``size`` (the channel count) and ``transform(x, g)`` on plain tensors, where
    ``g`` is an eqcnn ``GroupElement`` (its angle and reflection are used), an
    escnn group element, or an angle in radians.  The transform is escnn's
    (exact at multiples of 90 degrees, interpolated otherwise).

    Args:
        escnn_type: an ``escnn.nn.FieldType`` over a planar gspace.

    Example:
        >>> import math, torch
        >>> from escnn import gspaces
        >>> import escnn.nn
        >>> from eqcnn.interop.escnn import EscnnFieldType
        >>> so2 = gspaces.rot2dOnR2(-1)
        >>> t = EscnnFieldType(escnn.nn.FieldType(so2, [so2.irrep(1)]))
        >>> t.size
        2
        >>> t.transform(torch.randn(1, 2, 9, 9), math.pi / 2).shape
        torch.Size([1, 2, 9, 9])
    """

    def __init__(self, escnn_type: Any) -> None:
        if not isinstance(escnn_type, escnn.nn.FieldType):
            raise TypeError(f"`escnn_type` must be an escnn.nn.FieldType, got {_kind(escnn_type)}")
        self.escnn_type = escnn_type

    @property
    def size(self) -> int:
        """Number of channels."""
        return int(self.escnn_type.size)

    @property
    def group(self) -> Any:
        """The escnn group (``fibergroup``) acting on the fields."""
        return self.escnn_type.fibergroup

    def __len__(self) -> int:
        return len(self.escnn_type.representations)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EscnnFieldType) and self.escnn_type == other.escnn_type

    def __hash__(self) -> int:
        return hash(
            ("EscnnFieldType", self.escnn_type.gspace.name, tuple(r.name for r in self.escnn_type.representations))
        )

    def __repr__(self) -> str:
        return f"EscnnFieldType({self.escnn_type!r})"

    @property
    def is_trivial(self) -> bool:
        return all(r.is_trivial() for r in self.escnn_type.representations)

    def _element(self, g: Any) -> Any:
        if isinstance(g, GroupElement):
            return escnn_element(self.group, g.angle, g.reflection)
        if isinstance(g, (int, float)):
            return escnn_element(self.group, float(g), False)
        if isinstance(g, escnn.group.GroupElement):
            return g
        raise TypeError(f"`g` must be an eqcnn GroupElement, an escnn group element or an angle, got {g!r}")

    def transform(self, x: torch.Tensor, g: Any) -> torch.Tensor:
        """Act with ``g`` on ``x`` of shape ``(B, size, H, W)`` or ``(size, H, W)`` (escnn's transform)."""
        check_tensor(x, self.size, f"{self!r}.transform")
        unbatched = x.dim() == 3
        xb = x[None] if unbatched else x
        y = escnn.nn.GeometricTensor(xb, self.escnn_type).transform(self._element(g)).tensor
        return y[0] if unbatched else y

    def restrict(self, group: PointGroup) -> FieldType:
        """The eqcnn field type seen by the subgroup ``group`` (e.g. ``Cyclic(8)`` inside SO(2)).

        An SO(2)- or O(2)-equivariant module is equivariant to every subgroup,
        so its restricted types can be checked with eqcnn's harness and chained
        with eqcnn layers of that group.
        """
        from escnn.group import O2, SO2

        fg = self.group
        if not isinstance(group, PointGroup):
            raise TypeError(f"`group` must be an eqcnn group, got {group!r}")
        if isinstance(fg, SO2) and not group.has_reflections:
            sg_id: Any = group.N
        elif isinstance(fg, O2):
            # O(2)'s subgroup id (0, N) is the D_N of flipRot2dOnR2(N), whose mirror is eqcnn's
            # x -> -x (checked below by comparing the gspaces)
            sg_id = (0.0, group.N) if group.has_reflections else (None, group.N)
        else:
            raise ValueError(f"cannot restrict a field type of escnn's {fg.name} to {group!r}")
        restricted = self.escnn_type.restrict(sg_id)
        if restricted.gspace != gspace_of(group):
            raise ValueError(
                f"restricting to {group!r} gave escnn gspace {restricted.gspace.name}, not {gspace_of(group).name}"
            )
        return from_escnn_type(restricted)


def _view(escnn_type: Any, group: PointGroup | None) -> FieldType | EscnnFieldType:
    if is_mappable(escnn_type):
        mapped = from_escnn_type(escnn_type)
        if group is not None and group != mapped.group:
            if not mapped.group.is_continuous:
                raise ValueError(
                    f"`group` (={group!r}) is the subgroup through which to see an SO(2)/O(2) module; this "
                    f"module's types are eqcnn types over {mapped.group!r} already (leave `group` out)"
                )
            return mapped.restrict(group)  # checks that `group` is a subgroup (the same channels, seen by it)
        return mapped
    adapter = EscnnFieldType(escnn_type)
    return adapter.restrict(group) if group is not None else adapter


class EscnnModule(EquivariantModule):
    """An escnn ``EquivariantModule`` used as an eqcnn module on plain tensors.

    ``forward`` wraps the input in a ``GeometricTensor`` (no copy), runs the
    escnn module and returns the plain output tensor, so the module composes
    with eqcnn layers, ``torch.nn`` and eqcnn's test harness.  Equivariance is
    whatever the escnn module guarantees.

    ``in_type``/``out_type`` are eqcnn ``FieldType``s when escnn's types map
    (C_N, D_N with trivial, regular and irreducible fields; SO(2), O(2) with
    irreps and band-limited regular fields), else :class:`EscnnFieldType`
    adapters.  Pass ``group`` (e.g. ``eqcnn.Cyclic(8)``) to see an SO(2)/O(2)
    module through that subgroup instead: its types become eqcnn types of
    ``group`` (:meth:`eqcnn.FieldType.restrict`).

    The state_dict holds the escnn module's parameters under ``module.``; the
    filters escnn caches in eval mode are left out, so the keys are the same in
    train and eval mode.  ``export()`` returns escnn's own ``export()`` (plain
    ``torch.nn`` modules), computed in eval mode.

    Args:
        module: an ``escnn.nn.EquivariantModule`` over a planar gspace.
        group: optional eqcnn subgroup through which to see SO(2)/O(2) types
            (for a C_N or D_N module it must be the module's own group, or left out).

    Shapes:
        ``(B, in_type.size, H, W) -> (B, out_type.size, H', W')``.

    Example:
        >>> import torch, eqcnn
        >>> import escnn.nn
        >>> from eqcnn.interop.escnn import EscnnModule, to_escnn_type
        >>> G = eqcnn.Cyclic(4)
        >>> conv = escnn.nn.R2Conv(to_escnn_type(G.trivial(1)), to_escnn_type(G.regular(2)), 3)
        >>> m = EscnnModule(conv)
        >>> m.out_type
        Cyclic(4).regular(2)
        >>> m(torch.randn(2, 1, 9, 9)).shape
        torch.Size([2, 8, 7, 7])
    """

    def __init__(self, module: Any, *, group: PointGroup | None = None) -> None:
        super().__init__()
        if not isinstance(module, escnn.nn.EquivariantModule):
            raise TypeError(f"`module` must be an escnn.nn.EquivariantModule, got {_kind(module)}")
        self.module = module
        self.in_type = _view(module.in_type, group)  # type: ignore[assignment]
        self.out_type = _view(module.out_type, group)  # type: ignore[assignment]
        self._register_state_dict_hook(_drop_cached_filters)
        self.register_load_state_dict_post_hook(_refresh_cached_filters)

    def train(self, mode: bool = True) -> EscnnModule:
        super().train(mode)
        if not mode:
            _detach_cached_filters(self)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        unbatched = x.dim() == 3
        gt = escnn.nn.GeometricTensor(x[None] if unbatched else x, self.module.in_type)
        y = self.module(gt).tensor
        return y[0] if unbatched else y

    def export(self) -> nn.Module:
        """escnn's ``export()`` of the wrapped module: plain ``torch.nn`` modules computing the same function."""
        was_training = self.module.training
        self.module.eval()
        try:
            out = self.module.export()
        except (NotImplementedError, AttributeError) as err:
            raise NotImplementedError(
                f"escnn's {type(self.module).__name__} cannot be exported ({type(err).__name__}: {err})"
            ) from err
        finally:
            self.module.train(was_training)
        return out


def _drop_cached_filters(module: nn.Module, state: dict, prefix: str, local_metadata: Any) -> None:
    for name, sub in module.named_modules(prefix=prefix.rstrip(".")):
        if isinstance(sub, escnn.nn.modules.conv._RdConv):
            for key in ("filter", "expanded_bias"):
                state.pop(f"{name}.{key}" if name else key, None)


def _refresh_cached_filters(module: nn.Module, incompatible: Any) -> None:
    missing = incompatible.missing_keys
    for key in list(missing):
        if key.rsplit(".", 1)[-1] in ("filter", "expanded_bias"):
            missing.remove(key)
    for sub in module.modules():  # escnn's eval-mode filter cache is stale after new weights arrive
        if isinstance(sub, escnn.nn.modules.conv._RdConv) and not sub.training:
            sub.train(True)
            sub.train(False)
    _detach_cached_filters(module)


def _detach_cached_filters(module: nn.Module) -> None:
    """escnn builds its eval-mode filter cache with autograd on; detached, the module can be deep-copied."""
    for sub in module.modules():
        if isinstance(sub, escnn.nn.modules.conv._RdConv):
            for key in ("filter", "expanded_bias"):
                value = sub._buffers.get(key)
                if value is not None and value.grad_fn is not None:
                    sub._buffers[key] = value.detach()
