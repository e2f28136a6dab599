"""Nonlinearities: pointwise (for trivial and regular fields), norm and gated (for any field)."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_number
from ..fields import FieldType
from ._fieldutil import channel_fields, check_field_type, require_permutation
from ._module import EquivariantModule
from ._plain import GatedActivationPlain, NormActivationPlain, norm_activation

__all__ = [
    "ELU",
    "GELU",
    "GatedNonlinearity",
    "LeakyReLU",
    "NormNonlinearity",
    "PointwiseNonlinearity",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Tanh",
]

_POINTWISE_ADVICE = (
    "use NormNonlinearity or GatedNonlinearity for such fields, or FourierPointwise / FourierELU for band-limited "
    "fields (bl_regular) and direct sums of irreps"
)


class PointwiseNonlinearity(EquivariantModule):
    """Apply an elementwise torch activation to every channel of permutation fields.

    A function applied channel by channel commutes with any permutation of the
    channels, so on trivial and regular fields (whose representations permute
    channels) the layer is exactly equivariant for every group element whose
    pixel action is exact.  Other fields (irreps) are rejected: use
    :class:`NormNonlinearity` or :class:`GatedNonlinearity` there.

    Args:
        in_type: field type of the input and output; every representation must
            be a permutation (``Representation.is_permutation``).
        function: an elementwise ``torch.nn`` activation without parameters,
            e.g. ``torch.nn.Softplus()``.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> act = enn.PointwiseNonlinearity(eqcnn.Cyclic(4).regular(2), torch.nn.Softplus())
        >>> act(torch.randn(1, 8, 5, 5)).shape
        torch.Size([1, 8, 5, 5])
    """

    def __init__(self, in_type: FieldType, function: nn.Module) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        if not isinstance(function, nn.Module):
            raise TypeError(f"`function` must be a torch.nn.Module activation, got {type(function).__name__}")
        if any(True for _ in function.parameters()):
            raise ValueError(
                f"`function` must have no parameters (a per-channel parameter breaks equivariance), got {function!r}"
            )
        require_permutation(in_type, type(self).__name__, _POINTWISE_ADVICE)
        self.in_type = self.out_type = in_type
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.function(x)

    def export(self) -> nn.Module:
        import copy

        return copy.deepcopy(self.function)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}"


class _NamedPointwise(EquivariantModule):
    """Base of the named activations: ``ReLU(in_type, ...)`` mirrors ``torch.nn.ReLU(...)``."""

    _torch_cls: type[nn.Module]

    def __init__(self, in_type: FieldType, **kwargs: Any) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        require_permutation(in_type, type(self).__name__, _POINTWISE_ADVICE)
        self.in_type = self.out_type = in_type
        self._kwargs = kwargs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self._apply_fn(x)

    def _apply_fn(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def export(self) -> nn.Module:
        return self._torch_cls(**self._kwargs)

    def extra_repr(self) -> str:
        args = [f"{self.in_type!r}"] + [f"{k}={v!r}" for k, v in self._kwargs.items() if v != self._defaults()[k]]
        return ", ".join(args)

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {}


class ReLU(_NamedPointwise):
    """``torch.nn.ReLU`` on trivial and regular fields (exactly equivariant; see :class:`PointwiseNonlinearity`).

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> enn.ReLU(eqcnn.Cyclic(4).regular(2))
        ReLU(Cyclic(4).regular(2))
    """

    _torch_cls = nn.ReLU

    def __init__(self, in_type: FieldType, inplace: bool = False) -> None:
        super().__init__(in_type, inplace=bool(inplace))

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"inplace": False}

    def _apply_fn(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x, inplace=self._kwargs["inplace"])


class ELU(_NamedPointwise):
    """``torch.nn.ELU`` on trivial and regular fields (exactly equivariant)."""

    _torch_cls = nn.ELU

    def __init__(self, in_type: FieldType, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(in_type, alpha=check_number("alpha", alpha), inplace=bool(inplace))

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"alpha": 1.0, "inplace": False}

    def _apply_fn(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x, self._kwargs["alpha"], inplace=self._kwargs["inplace"])


class LeakyReLU(_NamedPointwise):
    """``torch.nn.LeakyReLU`` on trivial and regular fields (exactly equivariant)."""

    _torch_cls = nn.LeakyReLU

    def __init__(self, in_type: FieldType, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__(in_type, negative_slope=check_number("negative_slope", negative_slope), inplace=bool(inplace))

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"negative_slope": 0.01, "inplace": False}

    def _apply_fn(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self._kwargs["negative_slope"], inplace=self._kwargs["inplace"])


class GELU(_NamedPointwise):
    """``torch.nn.GELU`` on trivial and regular fields (exactly equivariant)."""

    _torch_cls = nn.GELU

    def __init__(self, in_type: FieldType, approximate: Literal["none", "tanh"] = "none") -> None:
        from .._checks import check_choice

        check_choice("approximate", approximate, ("none", "tanh"))
        super().__init__(in_type, approximate=approximate)

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"approximate": "none"}

    def _apply_fn(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate=self._kwargs["approximate"])


class SiLU(_NamedPointwise):
    """``torch.nn.SiLU`` on trivial and regular fields (exactly equivariant)."""

    _torch_cls = nn.SiLU

    def __init__(self, in_type: FieldType, inplace: bool = False) -> None:
        super().__init__(in_type, inplace=bool(inplace))

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"inplace": False}

    def _apply_fn(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(x, inplace=self._kwargs["inplace"])


class Sigmoid(_NamedPointwise):
    """``torch.nn.Sigmoid`` on trivial and regular fields (exactly equivariant)."""

    _torch_cls = nn.Sigmoid

    def __init__(self, in_type: FieldType) -> None:
        super().__init__(in_type)

    def _apply_fn(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)


class Tanh(_NamedPointwise):
    """``torch.nn.Tanh`` on trivial and regular fields (exactly equivariant)."""

    _torch_cls = nn.Tanh

    def __init__(self, in_type: FieldType) -> None:
        super().__init__(in_type)

    def _apply_fn(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


_NORM_FUNCTIONS = ("n_relu", "n_sigmoid", "n_softplus", "squash")


class NormNonlinearity(EquivariantModule):
    r"""Scale every field by a function of its norm: ``v -> v * f(|v| - b) / |v|``.

    The norm of a field is invariant (its representation is orthogonal), so the
    layer is equivariant for any field type, including irreps fields, exactly
    wherever the pixel action is exact.

    Args:
        in_type: field type of the input and output (any representations).
        function: ``"n_relu"`` (``relu(|v| - b) / |v|``), ``"n_sigmoid"``
            (``sigmoid(|v| - b)``), ``"n_softplus"`` (``softplus(|v| - b) / |v|``)
            or ``"squash"`` (``|v| / (|v|^2 + 1)``, no bias).
        bias: learn one bias ``b`` per field (initialised to zero).
        eps: floor on the norm, keeping gradients finite at ``v = 0``.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> act = enn.NormNonlinearity(eqcnn.Cyclic(8).irreps_field(1, multiplicity=3))
        >>> act(torch.randn(2, 6, 7, 7)).shape
        torch.Size([2, 6, 7, 7])
    """

    _index: torch.Tensor

    def __init__(self, in_type: FieldType, function: str = "n_relu", bias: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        from .._checks import check_choice

        check_field_type("in_type", in_type)
        check_choice("function", function, _NORM_FUNCTIONS)
        if function == "squash" and bias:
            bias = False
        self.in_type = self.out_type = in_type
        self.function = function
        self.eps = check_number("eps", eps, minimum=0)
        self._runs = in_type.channel_runs()
        self.register_buffer("_index", torch.tensor(channel_fields(in_type), dtype=torch.long), persistent=False)
        self.bias = nn.Parameter(torch.zeros(len(in_type))) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = self.check_input(x)
        if x.dim() == dims + 1:  # unbatched
            return self.forward(x[None])[0]
        return norm_activation(x, self._runs, self._index, self.bias, self.function, self.eps)

    def export(self) -> nn.Module:
        return NormActivationPlain(self._runs, self._index, self.bias, self.function, self.eps)

    def extra_repr(self) -> str:
        s = f"{self.in_type!r}"
        if self.function != "n_relu":
            s += f", function={self.function!r}"
        if self.bias is None and self.function != "squash":
            s += ", bias=False"
        return s


class GatedNonlinearity(EquivariantModule):
    r"""Gate each field by an invariant scalar: ``out_i = v_i * sigmoid(s_i)``.

    ``in_type`` is ``n`` trivial gate fields followed by the ``n`` fields they
    gate (one gate per field, in order); the output is the gated fields only.
    Since ``sigmoid(s_i)`` is invariant, the layer is equivariant for any gated
    representation (exactly wherever the pixel action is exact).  Build the
    input type with :meth:`input_type`.

    Args:
        in_type: ``G.trivial(n) + gated_type`` with ``len(gated_type) == n``.

    Shapes: ``(B, n + gated_type.size, H, W) -> (B, gated_type.size, H, W)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(8)
        >>> gated = G.irreps_field(1, multiplicity=2) + G.irreps_field(2)
        >>> act = enn.GatedNonlinearity(enn.GatedNonlinearity.input_type(gated))
        >>> act.out_type == gated
        True
        >>> act(torch.randn(1, 3 + 6, 5, 5)).shape
        torch.Size([1, 6, 5, 5])
    """

    _index: torch.Tensor

    def __init__(self, in_type: FieldType) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        n_fields = len(in_type)
        n = n_fields // 2
        gates = in_type.representations[:n]
        if n_fields == 0 or n_fields % 2 or not all(r.is_trivial for r in gates):
            raise ValueError(
                "`in_type` must be n trivial gate fields followed by the n fields they gate "
                f"(build it with GatedNonlinearity.input_type(gated_type)); got {in_type!r}"
            )
        self.in_type = in_type
        self.out_type = FieldType(in_type.group, in_type.representations[n:])
        self.num_gates = n
        self.register_buffer("_index", torch.tensor(channel_fields(self.out_type), dtype=torch.long), persistent=False)

    @staticmethod
    def input_type(gated_type: FieldType) -> FieldType:
        """``G.trivial(len(gated_type)) + gated_type``: the input type that gates ``gated_type``."""
        check_field_type("gated_type", gated_type)
        return gated_type.group.trivial(len(gated_type)) + gated_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = self.check_input(x)
        if x.dim() == dims + 1:  # unbatched
            return self.forward(x[None])[0]
        gates = torch.sigmoid(x[:, : self.num_gates])
        return x[:, self.num_gates :] * gates.index_select(1, self._index)

    def export(self) -> nn.Module:
        return GatedActivationPlain(self.num_gates, self._index)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}"
