"""ConvTranspose2d: the adjoint of an equivariant convolution, itself equivariant."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, pair
from ..fields import FieldType
from ..kernels import BasisKind, kernel_basis
from ._conv import _group_fields
from ._fieldutil import check_field_type, check_same_group
from ._module import EquivariantModule

__all__ = ["ConvTranspose2d"]


class ConvTranspose2d(EquivariantModule):
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

    _bias_basis: torch.Tensor
    _row_perm: torch.Tensor
    _col_perm: torch.Tensor

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
        self.basis_kind = (
            "pixel" if (basis == "auto" and group.order == 1) else ("harmonic" if basis == "auto" else basis)
        )
        self._identity = group.order == 1 and self.basis_kind == "pixel"
        factory = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        self._blocks: list[dict[str, Any]] = []
        if self._identity:
            n_weights = in_type.size * out_type.size * kernel[0] * kernel[1]
            self._needs_perm = False
        else:
            n_weights = self._build_blocks(factory)
        if n_weights == 0:
            raise ValueError(f"no equivariant {kernel[0]}x{kernel[1]} filter maps {in_type!r} to {out_type!r}")
        self.weight = nn.Parameter(torch.empty(n_weights, **factory))
        inv = out_type.invariant_basis
        if bias and inv.size and inv.shape[1] > 0:
            self.bias: nn.Parameter | None = nn.Parameter(torch.zeros(inv.shape[1], **factory))
            self.register_buffer("_bias_basis", torch.as_tensor(inv, **factory), persistent=False)
        else:
            self.register_parameter("bias", None)
        self._want_bias = bool(bias)
        self.reset_parameters()

    def _build_blocks(self, factory: dict[str, Any]) -> int:
        # rows: channels of in_type (dim 0 of the weight); columns: channels of out_type (dim 1)
        row_groups, row_inv = _group_fields(self.in_type)
        col_groups, col_inv = _group_fields(self.out_type)
        k = self.kernel_size[0]
        offset = 0
        for ri, (rrep, rfields) in enumerate(row_groups):
            for ci, (crep, cfields) in enumerate(col_groups):
                b = kernel_basis(crep, rrep, k, self.basis_kind)  # type: ignore[arg-type]
                name = f"_basis_{ri}_{ci}"
                self.register_buffer(
                    name,
                    torch.as_tensor(np.array(b.filters.reshape(b.dim, rrep.size * crep.size * k * k)), **factory),
                    persistent=False,
                )
                n = len(rfields) * len(cfields) * b.dim
                self._blocks.append(
                    dict(
                        row=ri,
                        col=ci,
                        n_row=len(rfields),
                        n_col=len(cfields),
                        d_row=rrep.size,
                        d_col=crep.size,
                        dim=b.dim,
                        offset=offset,
                        buffer=name,
                    )
                )
                offset += n
        self._n_rows = len(row_groups)
        self._needs_perm = row_inv != sorted(row_inv) or col_inv != sorted(col_inv)
        if self._needs_perm:
            self.register_buffer("_row_perm", torch.tensor(row_inv, device=factory["device"]), persistent=False)
            self.register_buffer("_col_perm", torch.tensor(col_inv, device=factory["device"]), persistent=False)
        return offset

    def expand_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The filter ``(in_type.size, out_type.size, kh, kw)`` and the bias ``(out_type.size,)``."""
        w = self.weight
        kh, kw = self.kernel_size
        if self._identity:
            filt = w.view(self.in_type.size, self.out_type.size, kh, kw)
        else:
            rows: list[list[torch.Tensor]] = [[] for _ in range(self._n_rows)]
            for blk in self._blocks:
                nr, nc, dr, dc, dim = blk["n_row"], blk["n_col"], blk["d_row"], blk["d_col"], blk["dim"]
                if dim == 0:
                    part = w.new_zeros(nr * dr, nc * dc, kh, kw)
                else:
                    coef = w[blk["offset"] : blk["offset"] + nr * nc * dim].view(nr * nc, dim)
                    part = (coef @ getattr(self, blk["buffer"])).view(nr, nc, dr, dc, kh, kw)
                    part = part.transpose(1, 2).reshape(nr * dr, nc * dc, kh, kw)
                rows[blk["row"]].append(part)
            filt = torch.cat([torch.cat(r, dim=1) for r in rows], dim=0)
            if self._needs_perm:
                filt = filt.index_select(0, self._row_perm).index_select(1, self._col_perm)
        bias = None if self.bias is None else self._bias_basis @ self.bias
        return filt, bias

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
        with torch.no_grad():
            conv.weight.copy_(filt)
            if bias is not None and conv.bias is not None:
                conv.bias.copy_(bias)
        return conv.train(self.training)

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
