"""ConvTranspose2d and ConvTranspose3d: the adjoint of an equivariant convolution, itself equivariant."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_dtype, check_int, ntuple
from ..fields import FieldType
from ..kernels import BASIS_KINDS, BasisKind, default_basis_kind
from ._fieldutil import check_conv_groups, check_dims, check_field_type, check_same_group, no_filter_message
from ._filter_bank import (
    ExpandedFilterModule,
    FilterBank,
    InvariantBias,
    _autocast_on,
    constants_follow_weight,
    load_filter,
)

__all__ = ["ConvTranspose2d", "ConvTranspose3d"]


class _ConvTransposeNd(ExpandedFilterModule):
    """The transposed convolution of :class:`ConvTranspose2d` and :class:`ConvTranspose3d`."""

    _dims = 2
    _conv = staticmethod(F.conv_transpose2d)
    _torch_cls: type[nn.Module] = nn.ConvTranspose2d

    def __init__(
        self,
        in_type: FieldType,
        out_type: FieldType,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        output_padding: int | tuple[int, ...] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, ...] = 1,
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
        if dtype is not None:
            check_dtype("dtype", dtype)
        group = in_type.group
        n = self._dims
        check_dims(type(self).__name__, in_type, n)
        self.spatial_dims = n
        self.groups = check_conv_groups(groups, in_type, out_type)
        check_choice("padding_mode", padding_mode, ("zeros",))
        check_choice("basis", basis, BASIS_KINDS)
        kernel = ntuple("kernel_size", kernel_size, n, minimum=1)
        if group.order > 1 and (len(set(kernel)) > 1 or kernel[0] % 2 == 0):
            shape = "square" if n == 2 else "cubic"
            odd = max(kernel) + 1 - max(kernel) % 2
            raise ValueError(
                f"`kernel_size` must be odd and {shape} for {group!r} (an even filter's centre moves under a "
                f"rotation or reflection), got {kernel_size!r}; use {odd}"
            )
        self.kernel_size = kernel
        self.stride = ntuple("stride", stride, n, minimum=1)
        self.padding = ntuple("padding", padding, n, minimum=0)
        self.output_padding = ntuple("output_padding", output_padding, n, minimum=0)
        self.dilation = ntuple("dilation", dilation, n, minimum=1)
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(
                f"`output_padding` (={output_padding}) must be smaller than `stride` or `dilation`, as in torch"
            )
        self.padding_mode = padding_mode
        self.in_type, self.out_type = in_type, out_type
        self.basis_kind = default_basis_kind(group) if basis == "auto" else basis
        if n == 3 and self.basis_kind != "pixel":
            raise ValueError(
                f"`basis` (={basis!r}) must be 'pixel' (the voxel basis, exact) or 'auto' for {group!r}: the harmonic "
                "bases are planar"
            )
        if groups != 1 and self.basis_kind != "pixel":
            raise ValueError(f"`groups` (={groups}) needs basis='pixel' (the ordinary conv), got {self.basis_kind!r}")
        # the weight is the filter bank of a conv from out_type to in_type: (in.size, out.size / groups, kh, kw)
        self._bank = FilterBank(out_type, in_type, kernel, self.basis_kind, dtype, device, groups=groups)
        if self._bank.size == 0:
            raise ValueError(no_filter_message(in_type, out_type, kernel, self.basis_kind))
        self.weight = nn.Parameter(torch.empty(self._bank.weight_shape(), device=device, dtype=dtype))
        self._bias_map = InvariantBias(out_type, dtype, device)
        if bias and self._bias_map.size > 0:
            self.bias: nn.Parameter | None = nn.Parameter(torch.zeros(self._bias_map.size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self._want_bias = bool(bias)
        self._cache: tuple[Any, torch.Tensor, torch.Tensor | None] | None = None
        self.register_load_state_dict_post_hook(constants_follow_weight)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation: weights scaled so each output channel's fan-in gives variance ``2 / fan_in``."""
        with torch.no_grad():
            self.weight.normal_()
            # on the meta device there are no values to scale (to_empty() and this again come later)
            per_entry = 0.0 if self.weight.is_meta else self.expand_parameters()[0].pow(2).mean().item()
            fan_in = self.in_type.size // self.groups * math.prod(self.kernel_size) / math.prod(self.stride)
            if per_entry > 0:
                self.weight.mul_(math.sqrt(2.0 / fan_in / per_entry))
            if self.bias is not None:
                self.bias.zero_()
        self._cache = None

    def forward(self, x: torch.Tensor, output_size: Sequence[int] | None = None) -> torch.Tensor:
        """Apply the layer; ``output_size`` (``(H', W')``, ``(D', H', W')`` for volumes, or the full output
        shape) picks the output padding, as in ``torch.nn.ConvTranspose2d.forward``, in place of
        ``output_padding``."""
        self.check_input(x)
        output_padding = self.output_padding if output_size is None else self._output_padding(x, output_size)
        filt, bias = self.expand_parameters()
        if filt.dtype != x.dtype and not _autocast_on(x.device.type):
            filt = filt.to(x.dtype)
            bias = None if bias is None else bias.to(x.dtype)
        return self._conv(x, filt, bias, self.stride, self.padding, output_padding, self.groups, self.dilation)

    def _output_padding(self, x: torch.Tensor, output_size: Any) -> tuple[int, ...]:
        """The output padding that gives ``output_size``, checked as torch checks it."""
        name, n = type(self).__name__, self._dims
        if isinstance(output_size, (str, bytes)) or not isinstance(output_size, Sequence):
            raise TypeError(
                f"{name}: `output_size` must be a sequence of ints, got {type(output_size).__name__} ({output_size!r})"
            )
        spatial = list(output_size)
        lead = x.dim() - n  # 2 for (B, C, H, W), 1 for unbatched (C, H, W)
        if len(spatial) == lead + n:
            spatial = spatial[lead:]
        if len(spatial) != n:
            raise ValueError(
                f"{name}: for {x.dim()}D input, `output_size` must have {n} or {lead + n} elements, "
                f"got {len(output_size)} ({list(output_size)})"
            )
        size = [check_int(f"output_size[{i}]", v) for i, v in enumerate(spatial)]
        smallest = [
            (m - 1) * s - 2 * p + d * (k - 1) + 1
            for m, s, p, d, k in zip(x.shape[-n:], self.stride, self.padding, self.dilation, self.kernel_size)
        ]
        largest = [m + s - 1 for m, s in zip(smallest, self.stride)]
        if any(not lo <= v <= hi for v, lo, hi in zip(size, smallest, largest)):
            raise ValueError(
                f"{name}: requested `output_size` {size}, but valid sizes range from {smallest} to "
                f"{largest} (for an input of size {tuple(x.shape[-n:])})"
            )
        return tuple(v - lo for v, lo in zip(size, smallest))

    def export(self) -> nn.Module:
        """A ``torch.nn.ConvTranspose2d`` (``ConvTranspose3d``) holding the expanded filter."""
        filt, bias = self.expand_parameters()
        conv = self._torch_cls(
            self.in_type.size,
            self.out_type.size,
            self.kernel_size,
            self.stride,
            self.padding,
            self.output_padding,
            groups=self.groups,
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
        def f(v: tuple[int, ...]) -> Any:
            return v[0] if len(set(v)) == 1 else v

        s = f"{self.in_type!r}, {self.out_type!r}, kernel_size={f(self.kernel_size)}"
        for name, default in (("stride", 1), ("padding", 0), ("output_padding", 0), ("dilation", 1)):
            v = getattr(self, name)
            if v != (default,) * self._dims:
                s += f", {name}={f(v)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if not self._want_bias:
            s += ", bias=False"
        return s


class ConvTranspose2d(_ConvTransposeNd):
    r"""Transposed 2-D convolution from ``in_type`` fields to ``out_type`` fields, equivariant by construction.

    Its weight (``torch.nn.ConvTranspose2d``'s ``(in_channels, out_channels, k, k)``)
    is an equivariant filter bank of a convolution from ``out_type`` to
    ``in_type`` (from :func:`eqcnn.kernels.kernel_basis`); the transpose
    (adjoint) of an equivariant map between orthogonal representations is
    equivariant for the swapped types, so

        ``deconv(in_type.transform(x, g)) == out_type.transform(deconv(x), g)``

    exactly for the grid symmetries in the group when ``output_padding == 0``
    (a non-zero ``output_padding``, or an ``output_size`` in :meth:`forward`
    larger than the smallest one, adds rows on one side only, which breaks the
    symmetry of the output grid), approximately for other angles with
    ``stride=1``.  With a larger stride the input is spread on a grid with
    zeros between its pixels, whose aliases do not turn by 45 degrees: a
    randomly initialised layer is then no closer to equivariance at such angles
    than a plain one (C8, k=3, stride 2: relative error 0.2-1.8, plain
    0.5-1.9), unless its filter learns to interpolate; to upsample with
    approximate equivariance at every angle use :class:`Upsample` followed by a
    :class:`Conv2d`.  With ``eqcnn.Trivial()`` it is exactly
    ``torch.nn.ConvTranspose2d``.

    Arguments follow ``torch.nn.ConvTranspose2d``; ``padding_mode`` must be
    ``"zeros"`` (as in torch); ``groups`` must be 1 except for ``Trivial()``
    with the pixel basis (the weight then has torch's grouped layout
    ``(in_channels, out_channels / groups, kh, kw)``); ``basis`` as in :class:`Conv2d`.

    Shapes: ``(B, in_type.size, H, W) -> (B, out_type.size, H', W')`` with
    ``H' = (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``,
    or ``output_size`` when :meth:`forward` is given one.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> up = enn.ConvTranspose2d(G.regular(4), G.regular(2), 3, stride=2, padding=1)
        >>> up(torch.randn(1, 16, 8, 8)).shape
        torch.Size([1, 8, 15, 15])
    """

    _dims = 2
    _conv = staticmethod(F.conv_transpose2d)
    _torch_cls: type[nn.Module] = nn.ConvTranspose2d


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution of volumes, equivariant by construction (see :class:`ConvTranspose2d`).

    Over ``Octahedral()`` and ``FullOctahedral()`` its weight is a voxel-basis
    filter bank (see :class:`Conv3d`); exact for every element when
    ``output_padding == 0``.  With ``eqcnn.Trivial()`` it is exactly
    ``torch.nn.ConvTranspose3d``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Octahedral()
        >>> up = enn.ConvTranspose3d(G.regular(1), G.regular(1), 3, stride=2, padding=1)
        >>> up(torch.randn(1, 24, 4, 4, 4)).shape
        torch.Size([1, 24, 7, 7, 7])
    """

    _dims = 3
    _conv = staticmethod(F.conv_transpose3d)
    _torch_cls: type[nn.Module] = nn.ConvTranspose3d
