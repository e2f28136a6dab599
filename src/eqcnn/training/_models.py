"""The named models of ``eqcnn train``: SFCNN over a group, sized to about the plain CNN's parameters."""

from __future__ import annotations

from typing import Any

from torch import nn

from .. import groups
from .._checks import check_choice

__all__ = ["MODEL_NAMES", "build_model", "model_group"]

#: name -> (group, SFCNN restriction schedule)
_MODELS: dict[str, tuple[Any, dict[int, Any] | None]] = {
    "cnn": (groups.Trivial(), None),
    "c8": (groups.Cyclic(8), None),
    "c16": (groups.Cyclic(16), None),
    "d16-c16": (groups.Dihedral(16), {5: groups.Cyclic(16)}),  # e2cnn's best MNIST-rot model, "D16|5 C16"
    "so2": (groups.SO2(3), None),
}
MODEL_NAMES = tuple(_MODELS)


def model_group(name: str) -> Any:
    check_choice("model", name, MODEL_NAMES)
    return _MODELS[name][0]


def build_model(name: str, *, width: float = 1.0, match: str = "params", num_classes: int = 10) -> nn.Module:
    """``SFCNN`` over the named model's group (``cnn`` is the plain CNN, ``Trivial()``).

    ``match="params"`` sizes every equivariant model to about the plain CNN's parameter count (see
    :func:`eqcnn.models.num_fields`); ``d16-c16`` restricts D16 to C16 after the fifth block.
    """
    from ..models import SFCNN

    group, restrict = _MODELS[check_choice("model", name, MODEL_NAMES)]
    return SFCNN(group, num_classes=num_classes, width=width, match=match, restrict=restrict)  # type: ignore[arg-type]
