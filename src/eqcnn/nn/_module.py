"""EquivariantModule: the base of every eqcnn layer."""

from __future__ import annotations

from typing import Any

from torch import nn

from .._checks import check_tensor
from ..fields import FieldType

__all__ = ["EquivariantModule"]


class EquivariantModule(nn.Module):
    """An ``nn.Module`` mapping plain tensors of ``in_type`` to tensors of ``out_type``.

    For every group element ``g`` the module promises
    ``module(in_type.transform(x, g)) == out_type.transform(module(x), g)``
    (exactly for grid symmetries, approximately otherwise; see each layer).

    Subclasses set ``in_type`` and ``out_type`` in ``__init__`` and implement
    ``forward`` and ``export``.
    """

    in_type: FieldType
    out_type: FieldType
    #: The spatial dimensions of the input: 2 or 3 for a layer of one dimension (``Conv2d``, ``Conv3d``),
    #: ``None`` for one that follows its group (pointwise layers, ``GroupPool``): images for the planar
    #: groups, volumes for the octahedral ones, either for ``Trivial()``.
    spatial_dims: int | None = None

    def input_dims(self) -> int | None:
        """The spatial dimensions this layer's input has (``None``: either, for ``Trivial()``).

        A module over ``Trivial()`` whose own dimension is not fixed (a container, a pointwise layer)
        takes it from its first submodule that has one (a ``Conv3d``: volumes).
        """
        if self.spatial_dims is not None:
            return self.spatial_dims
        dims = self.in_type.group.spatial_dims
        if dims is None:
            for m in self.modules():
                if m is not self and isinstance(m, EquivariantModule) and m.spatial_dims is not None:
                    return m.spatial_dims
        return dims

    def check_input(self, x: Any) -> int:
        """Raise a clear error if ``x`` is not a float tensor with ``in_type.size`` channels and the layer's
        spatial dimensions; return the number of spatial dimensions."""
        return check_tensor(x, self.in_type.size, type(self).__name__, self.input_dims())

    def export(self) -> nn.Module:
        """A plain PyTorch module computing the same function (no eqcnn needed to run it)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement export()")

    def _extra_state_info(self) -> dict[str, Any]:
        return {"in_type": repr(self.in_type), "out_type": repr(self.out_type)}

    def get_extra_state(self) -> dict[str, Any]:
        # Stored in the state_dict so that loading weights into a layer built for
        # another group or field type fails with a message that says so.
        return {"eqcnn": self._extra_state_info()}

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any, **kwargs: Any) -> None:
        # A state_dict without the type record (e.g. a torch.nn.Conv2d's, loaded into the Trivial
        # layer of the same shape) is accepted: there is nothing to compare it with.
        state_dict.setdefault(prefix + "_extra_state", self.get_extra_state())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def set_extra_state(self, state: Any) -> None:
        if not isinstance(state, dict) or "eqcnn" not in state:
            return
        mine = self._extra_state_info()
        theirs = state["eqcnn"]
        diff = [k for k, v in mine.items() if k in theirs and theirs[k] != v]
        if diff:
            saved = ", ".join(f"{k}={theirs[k]}" for k in diff)
            here = ", ".join(f"{k}={mine[k]}" for k in diff)
            raise ValueError(
                f"cannot load a state_dict saved from a {type(self).__name__} with {saved} into one with {here}"
            )
