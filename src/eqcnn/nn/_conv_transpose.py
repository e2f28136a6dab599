"""ConvTranspose2d: the adjoint of an equivariant convolution, itself equivariant."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, pair
from ..fields import FieldType
from ..kernels import BasisKind, default_basis_kind
from ._fieldutil import check_field_type, check_same_group
from ._filter_bank import ExpandedFilterModule, FilterBank, InvariantBias, load_filter

__all__ = ["ConvTranspose2d"]


class ConvTranspose2d(ExpandedFilterModule):
    r"""Transposed 2-D convolution from ``in_type`` fields to ``out_type`` fields, equivariant by construction.

    Its weight (``torch.nn.ConvTranspose2d``'s ``(in_channels, out_channels, k, k)``)
    is an equivariant filter bank of a convolution from ``out_type`` to
    ``in_type`` (from :func:`eqcnn.kernels.kernel_basis`); the transpose
    (adjoint) of an equivariant map between orthogonal representations is
    equivariant for the swapped types, so

        ``deconv(in_type.transform(x, g)) == out_type.transform(deconv(x), g)``

    exactly for the grid symmetries in the group when ``output_padding == 0``
    (a non-zero ``output_padding`` adds rows on one side only, which breaks the
    symmetry of the output grid), approximately for other angles.  With
    ``eqcnn.Trivial()`` it is exactly ``torch.nn.ConvTranspose2d``.

    Arguments follow ``torch.nn.ConvTranspose2d``; ``groups`` must be 1 and
    ``padding_mode`` ``"zeros"`` (as in torch); ``basis`` as in :class:`Conv2d`.

    Shapes: ``(B, in_type.size, H, W) -> (B, out_type.size, H', W')`` with
    ``H' = (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> up = enn.ConvTranspose2d(G.regular(4), G.regular(2), 3, stride=2, padding=1)
        >>> up(torch.randn(1, 16, 8, 8)).shape
        torch.Size([1, 8, 15, 15])
    """

    def __init__(
        self,
        in_type: FieldType,
        out_type: FieldType,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        basis: BasisKind = "auto",
    ) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        check_field_type("out_type", out_type)
        check_same_group(in_type, out_type)
        group = in_type.group
        if check_int("groups", groups, minimum=1) != 1:
            raise ValueError(f"`groups` (={groups}) must be 1: grouped equivariant convolutions are not supported")
        check_choice("padding_mode", padding_mode, ("zeros",))
        check_choice("basis", basis, ("auto", "harmonic", "pixel"))
        kernel = pair("kernel_size", kernel_size, minimum=1)
        if group.order > 1 and (kernel[0] != kernel[1] or kernel[0] % 2 == 0):
            raise ValueError(f"`kernel_size` must be odd and square for {group!r}, got {kernel_size!r}")
        self.kernel_size = kernel
        self.stride = pair("stride", stride, minimum=1)
        self.padding = pair("padding", padding, minimum=0)
        self.output_padding = pair("output_padding", output_padding, minimum=0)
        self.dilation = pair("dilation", dilation, minimum=1)
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(
                f"`output_padding` (={output_padding}) must be smaller than `stride` or `dilation`, as in torch"
            )
        self.padding_mode = padding_mode
        self.in_type, self.out_type = in_type, out_type
        self.basis_kind = default_basis_kind(group) if basis == "auto" else basis
        # the weight is the filter bank of a conv from out_type to in_type: (in.size, out.size, kh, kw)
        self._bank = FilterBank(out_type, in_type, kernel, self.basis_kind, dtype, device)
        if self._bank.size == 0:
            raise ValueError(f"no equivariant {kernel[0]}x{kernel[1]} filter maps {in_type!r} to {out_type!r}")
        self.weight = nn.Parameter(torch.empty(self._bank.weight_shape(), device=device, dtype=dtype))
        self._bias_map = InvariantBias(out_type, dtype, device)
        if bias and self._bias_map.size > 0:
            self.bias: nn.Parameter | None = nn.Parameter(torch.zeros(self._bias_map.size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self._want_bias = bool(bias)
        self._cache: tuple[Any, torch.Tensor, torch.Tensor | None] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation: weights scaled so each output channel's fan-in gives variance ``2 / fan_in``."""
        with torch.no_grad():
            self.weight.normal_()
            filt, _ = self.expand_parameters()
            per_entry = filt.pow(2).mean().item()
            fan_in = self.in_type.size * self.kernel_size[0] * self.kernel_size[1] / (self.stride[0] * self.stride[1])
            if per_entry > 0:
                self.weight.mul_(math.sqrt(2.0 / fan_in / per_entry))
            if self.bias is not None:
                self.bias.zero_()
        self._cache = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        filt, bias = self.expand_parameters()
        if filt.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
            filt = filt.to(x.dtype)
            bias = None if bias is None else bias.to(x.dtype)
        return F.conv_transpose2d(x, filt, bias, self.stride, self.padding, self.output_padding, 1, self.dilation)

    def export(self) -> nn.ConvTranspose2d:
        """A ``torch.nn.ConvTranspose2d`` holding the expanded filter."""
        filt, bias = self.expand_parameters()
        conv = nn.ConvTranspose2d(
            self.in_type.size,
            self.out_type.size,
            self.kernel_size,
            self.stride,
            self.padding,
            self.output_padding,
            bias=bias is not None,
            dilation=self.dilation,
            device=filt.device,
            dtype=filt.dtype,
        )
        return load_filter(conv, filt, bias, self.training)

    def _extra_state_info(self) -> dict[str, Any]:
        info = super()._extra_state_info()
        info.update(kernel_size=list(self.kernel_size), basis=self.basis_kind)
        return info

    def extra_repr(self) -> str:
        def f(v: tuple[int, int]) -> Any:
            return v[0] if v[0] == v[1] else v

        s = f"{self.in_type!r}, {self.out_type!r}, kernel_size={f(self.kernel_size)}"
        for name, default in (("stride", 1), ("padding", 0), ("output_padding", 0), ("dilation", 1)):
            v = getattr(self, name)
            if v != (default, default):
                s += f", {name}={f(v)}"
        if not self._want_bias:
            s += ", bias=False"
        return s
