"""Small layers: Identity, field-wise Dropout, Upsample and Linear on invariant features."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import ShapeError, check_choice, check_dtype, check_int, check_probability, pair
from ..fields import FieldType
from ._fieldutil import channel_fields, check_dims, check_field_type
from ._module import EquivariantModule
from ._plain import FieldDropoutPlain

__all__ = ["FieldDropout", "Identity", "Linear", "Upsample"]


class Identity(EquivariantModule):
    """Return the input unchanged (``torch.nn.Identity`` with a type).

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> enn.Identity(eqcnn.Cyclic(4).regular(1))(torch.ones(1, 4, 3, 3)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, in_type: FieldType) -> None:
        super().__init__()
        self.in_type = self.out_type = check_field_type("in_type", in_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return x

    def export(self) -> nn.Module:
        return nn.Identity()

    def extra_repr(self) -> str:
        return f"{self.in_type!r}"


class FieldDropout(EquivariantModule):
    """Dropout of whole fields: in training, each field of each sample is zeroed with probability ``p``
    (all its channels and pixels together, like ``torch.nn.Dropout2d`` on fields) and the rest scaled by
    ``1 / (1 - p)`` (``p = 1`` zeroes everything, as torch); in eval mode the identity.

    The mask is one invariant number per field, so for the same random state
    the layer is exactly equivariant, for any field type.  Dropping single
    channels of a regular field would not be.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> drop = enn.FieldDropout(eqcnn.Cyclic(4).regular(3), p=0.5)
        >>> drop(torch.ones(2, 12, 4, 4)).shape
        torch.Size([2, 12, 4, 4])
    """

    _index: torch.Tensor

    def __init__(self, in_type: FieldType, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        check_probability("p", p)
        self.in_type = self.out_type = in_type
        self.p = float(p)
        self.inplace = bool(inplace)
        self.register_buffer("_index", torch.tensor(channel_fields(in_type), dtype=torch.long), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = self.check_input(x)
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:  # every field dropped; times zero, as torch (NaN stays NaN)
            zero = x.new_zeros(())
            return x.mul_(zero) if self.inplace else x * zero
        if x.dim() == dims + 1:  # unbatched
            return self.forward(x[None])[0]
        keep = torch.empty(x.shape[0], len(self.in_type), *(1,) * dims, dtype=x.dtype, device=x.device)
        keep = keep.bernoulli_(1.0 - self.p) / (1.0 - self.p)
        mask = keep.index_select(1, self._index)
        return x.mul_(mask) if self.inplace else x * mask

    def export(self) -> nn.Module:
        return FieldDropoutPlain(self.p, self._index, len(self.in_type)).train(self.training)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, p={self.p}" + (", inplace=True" if self.inplace else "")


class Upsample(EquivariantModule):
    """``torch.nn.Upsample`` on any fields (the same resampling on every channel).

    The sampling positions of ``"bilinear"`` and ``"bicubic"`` are symmetric
    about the image centre for every size (the layer resamples at the output
    size's own positions, ``recompute_scale_factor=True``), so those modes are exactly
    equivariant for every grid symmetry; ``"nearest"`` is exact for integer
    ``scale_factor`` only (other sizes are rejected).

    ``size`` (an int or ``(H', W')``) and ``scale_factor`` (a number or one per
    axis) are as torch's; exactly one is given.  A different size or factor
    per axis is refused for groups with rotations other than by 180 degrees
    (their rotations swap the axes, so no such resizing is equivariant);
    with ``Trivial()``, ``Cyclic(2)``, ``Dihedral(1)`` and ``Dihedral(2)`` it
    is exact.

    Shapes: ``(B, C, H, W) -> (B, C, H', W')``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> up = enn.Upsample(eqcnn.Dihedral(4).regular(1), scale_factor=2, mode="bilinear")
        >>> up(torch.randn(1, 8, 5, 5)).shape
        torch.Size([1, 8, 10, 10])
    """

    def __init__(
        self,
        in_type: FieldType,
        size: int | tuple[int, int] | None = None,
        scale_factor: float | tuple[float, float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
    ) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        check_dims("Upsample", in_type, 2)
        self.spatial_dims = 2
        check_choice("mode", mode, ("nearest", "bilinear", "bicubic"))
        if (size is None) == (scale_factor is None):
            raise ValueError(
                f"give exactly one of `size` and `scale_factor`, got size={size!r}, scale_factor={scale_factor!r}"
            )
        self.size = None if size is None else pair("size", size, minimum=1)
        self.scale_factor = None if scale_factor is None else _scale_factor(scale_factor)
        factors = (
            None
            if self.scale_factor is None
            else self.scale_factor
            if isinstance(self.scale_factor, tuple)
            else (self.scale_factor,)
        )
        if mode == "nearest" and (factors is None or any(f != int(f) for f in factors)):
            raise ValueError(
                "`mode`='nearest' is exactly equivariant only with an integer `scale_factor`; "
                f"got size={size!r}, scale_factor={scale_factor!r} (use mode='bilinear')"
            )
        if mode == "nearest" and align_corners is not None:
            raise ValueError("`align_corners` only applies to mode 'bilinear' or 'bicubic'")
        group = in_type.group
        anisotropic = (self.size is not None and self.size[0] != self.size[1]) or (
            factors is not None and factors[0] != factors[-1]
        )
        if anisotropic and group.N > 2:
            name, value = ("size", size) if self.size is not None else ("scale_factor", scale_factor)
            raise ValueError(
                f"`{name}` (={value!r}) must be the same along both axes for {group!r}: its rotations swap the "
                "axes, so resizing them differently is not equivariant"
            )
        self.in_type = self.out_type = in_type
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if x.dim() == 3:
            return self.forward(x[None])[0]
        # recompute_scale_factor: sample at the positions of the actual output size, which are
        # symmetric about the centre (with the nominal factor they are not, for non-integer factors)
        return F.interpolate(
            x, self.size, self.scale_factor, self.mode, self.align_corners, recompute_scale_factor=self.size is None
        )

    def export(self) -> nn.Module:
        return nn.Upsample(
            self.size, self.scale_factor, self.mode, self.align_corners, recompute_scale_factor=self.size is None
        )

    def extra_repr(self) -> str:
        s = f"{self.in_type!r}"
        s += f", size={self.size}" if self.size is not None else f", scale_factor={self.scale_factor}"
        s += f", mode={self.mode!r}"
        if self.align_corners is not None:
            s += f", align_corners={self.align_corners}"
        return s


def _scale_factor(value: Any) -> float | tuple[float, float]:
    """A positive finite number, or a pair of them (``torch.nn.Upsample``'s ``scale_factor``)."""

    def one(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"`scale_factor` must be a number or a pair of numbers, got {type(v).__name__} ({value!r})")
        f = float(v)
        if not (math.isfinite(f) and f > 0):
            raise ValueError(f"`scale_factor` must be positive and finite, got {value!r}")
        return f

    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"`scale_factor` must be a number or a pair of numbers (one per axis), got {value!r}")
        return (one(value[0]), one(value[1]))
    return one(value)


class Linear(EquivariantModule):
    """``torch.nn.Linear`` on invariant features: ``(..., in_type.size) -> (..., out_features)``.

    ``in_type`` must be trivial fields (e.g. after :class:`GroupPool` and a
    global pool, then ``torch.nn.Flatten``); the output is
    ``G.trivial(out_features)``.  Invariant in, invariant out, any weights.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> head = enn.Linear(eqcnn.Cyclic(8).trivial(16), 10)
        >>> head(torch.randn(4, 16)).shape
        torch.Size([4, 10])
    """

    def __init__(
        self, in_type: FieldType, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        if not in_type.is_trivial:
            raise ValueError(
                f"`in_type` of Linear must be trivial (invariant) fields, got {in_type!r}; "
                "pool over the group first (GroupPool) or use a 1x1 Conv2d"
            )
        check_int("out_features", out_features, minimum=1)
        if dtype is not None:
            check_dtype("dtype", dtype)
        self.in_type = in_type
        self.out_type = in_type.group.trivial(out_features)
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_features, in_type.size, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``torch.nn.Linear``'s initialisation."""
        nn.Linear.reset_parameters(self)  # type: ignore[arg-type]

    def check_input(self, x: Any) -> int:
        """Check ``x`` has ``in_type.size`` features in its last dimension; return 0 (no spatial dimensions)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Linear: input must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() == 0 or x.shape[-1] != self.in_type.size:
            raise ShapeError(
                f"Linear: input must have {self.in_type.size} features in its last dimension, "
                f"got shape {tuple(x.shape)} (flatten (B, C, 1, 1) with torch.nn.Flatten first)"
            )
        return 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return F.linear(x, self.weight, self.bias)

    def export(self) -> nn.Module:
        lin = nn.Linear(
            self.in_type.size,
            self.out_type.size,
            self.bias is not None,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )
        with torch.no_grad():
            lin.weight.copy_(self.weight)
            if self.bias is not None:
                lin.bias.copy_(self.bias)
        return lin

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, out_features={self.out_type.size}" + (", bias=False" if self.bias is None else "")
