"""Conv2d and Conv3d: convolutions whose filter lies in the space of equivariant filters.

One class, :class:`_ConvNd`, does the work for images and volumes; the two
public classes set the number of spatial dimensions, torch's conv function and
module, and their documentation.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_dtype, ntuple
from ..fields import FieldType
from ..kernels import BASIS_KINDS, BasisKind, default_basis_kind
from ._fieldutil import check_conv_groups, check_dims, no_filter_message
from ._filter_bank import (
    ExpandedFilterModule,
    FilterBank,
    InvariantBias,
    _autocast_on,
    constants_follow_weight,
    load_filter,
)

__all__ = ["Conv2d", "Conv3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(ExpandedFilterModule):
    """The convolution of :class:`Conv2d` and :class:`Conv3d`, for ``_dims`` spatial dimensions."""

    _dims = 2
    _conv = staticmethod(F.conv2d)
    _torch_cls: type[nn.Module] = nn.Conv2d

    # torch's 'same' padding with an even kernel: one more row/column after (set in _parse_padding)
    _same_extra: tuple[int, ...] = (0, 0)
    _padding_same: bool = False

    def __init__(
        self,
        in_type: FieldType,
        out_type: FieldType,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        basis: BasisKind = "auto",
    ) -> None:
        super().__init__()
        for name, t in (("in_type", in_type), ("out_type", out_type)):
            if not isinstance(t, FieldType):
                raise TypeError(f"`{name}` must be an eqcnn FieldType (e.g. G.regular(8)), got {type(t).__name__}")
        if dtype is not None:
            check_dtype("dtype", dtype)
        if in_type.group != out_type.group:
            raise ValueError(
                f"`in_type` and `out_type` must have the same group, got {in_type.group!r} and {out_type.group!r}"
            )
        group = in_type.group
        name = type(self).__name__
        check_dims(name, in_type, self._dims)
        self.spatial_dims = self._dims
        self.groups = check_conv_groups(groups, in_type, out_type)
        check_choice("padding_mode", padding_mode, _PADDING_MODES)
        check_choice("basis", basis, BASIS_KINDS)
        n = self._dims
        kernel = ntuple("kernel_size", kernel_size, n, minimum=1)
        self.stride = ntuple("stride", stride, n, minimum=1)
        self.dilation = ntuple("dilation", dilation, n, minimum=1)
        if group.order > 1 and (len(set(kernel)) > 1 or kernel[0] % 2 == 0):
            odd = max(kernel) + 1 - max(kernel) % 2  # the smallest odd size holding the largest side
            shape = "square" if n == 2 else "cubic"
            raise ValueError(
                f"`kernel_size` must be odd and {shape} for {group!r} (an even filter's centre moves "
                f"under a rotation or reflection), got {kernel_size!r}; use {odd}"
            )
        self.kernel_size = kernel
        self.padding = self._parse_padding(padding)
        self.padding_mode = padding_mode
        self.in_type = in_type
        self.out_type = out_type
        self.basis_kind = default_basis_kind(group) if basis == "auto" else basis
        if n == 3 and self.basis_kind != "pixel":
            raise ValueError(
                f"`basis` (={basis!r}) must be 'pixel' (the voxel basis, exact) or 'auto' for {group!r}: the harmonic "
                "bases are planar"
            )
        if not (group.order == 1 and self.basis_kind == "pixel") and len(set(kernel)) > 1:
            raise ValueError(f"`kernel_size` must be square with basis={self.basis_kind!r}, got {kernel_size!r}")
        if groups != 1 and self.basis_kind != "pixel":
            raise ValueError(f"`groups` (={groups}) needs basis='pixel' (the ordinary conv), got {self.basis_kind!r}")
        self._bank = FilterBank(in_type, out_type, kernel, self.basis_kind, dtype, device, groups=groups)
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

    # -- construction helpers ----------------------------------------------------------
    def _parse_padding(self, padding: Any) -> tuple[int, ...]:
        """The padding before each axis; torch's ``'same'`` with an even dilated kernel pads one more after."""
        n = self._dims
        self._same_extra = (0,) * n  # extra rows at the bottom, columns at the right (and slices at the back)
        self._padding_same = isinstance(padding, str) and padding == "same"
        if isinstance(padding, str):
            check_choice("padding", padding, ("same", "valid"))
            if padding == "valid":
                return (0,) * n
            if self.stride != (1,) * n:
                raise ValueError(f"`padding`='same' needs stride 1 (as in torch), got stride={self.stride}")
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            # as torch: an odd total puts the extra row/column after (only even kernels of Trivial() get here)
            self._same_extra = tuple(t % 2 for t in total)
            return tuple(t // 2 for t in total)
        return ntuple("padding", padding, n, minimum=0)

    def reset_parameters(self) -> None:
        """He initialisation, aware of the basis; the bias starts at zero.

        For white inputs, He's rule gives each filter entry of an output row the
        variance ``2 / fan_in``.  The inputs of a conv are ReLU outputs, whose
        mean is not zero, and a band-limited filter sums a constant input
        coherently, so the rule here counts the basis' response to the mean too:
        with ``e_white`` and ``e_dc`` the energies of the basis (and of its sums
        over taps) reaching one output row, the weights get variance
        ``1 / ((1/2 - 1/(2 pi)) e_white + e_dc / (2 pi))``, which is ``2 / fan_in``
        for the pixel basis of the ordinary conv.  One layer then doubles the
        second moment of ReLU'd white noise, as He's rule promises.  Through a
        deep stack without normalisation, band-limited filters make activations
        spatially smooth, which the rule cannot know: the moment drifts (about
        x1.3 a layer for 5x5 C8 filters, less for 3x3; measured in
        tests/foundation/test_conv.py), so deep models use batch norm.
        """
        self._bank.init_(self.weight)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()
        self._cache = None

    # -- the filter ------------------------------------------------------------------------------

    # -- forward ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        filt, bias = self.expand_parameters()
        if filt.dtype != x.dtype and not _autocast_on(x.device.type):
            filt = filt.to(x.dtype)
            bias = None if bias is None else bias.to(x.dtype)
        if self.padding_mode != "zeros" or any(self._same_extra):
            pads: list[int] = []
            for p, e in zip(reversed(self.padding), reversed(self._same_extra)):  # F.pad: the last axis first
                pads += [p, p + e]
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = F.pad(x, tuple(pads), mode=mode)
            return self._conv(x, filt, bias, self.stride, 0, self.dilation, self.groups)
        return self._conv(x, filt, bias, self.stride, self.padding, self.dilation, self.groups)

    # -- export and printing ------------------------------------------------------------------
    def export(self) -> nn.Module:
        """A ``torch.nn.Conv2d`` (``Conv3d``) holding the expanded filter (same ``padding_mode``)."""
        filt, bias = self._expand()
        conv = self._torch_cls(
            self.in_type.size,
            self.out_type.size,
            self.kernel_size,
            stride=self.stride,
            padding="same" if any(self._same_extra) else self.padding,
            dilation=self.dilation,
            groups=self.groups,
            bias=self.bias is not None,
            padding_mode=self.padding_mode,  # type: ignore[arg-type]
            device=filt.device,
            dtype=filt.dtype,
        )
        return load_filter(conv, filt, bias, self.training)

    def _extra_state_info(self) -> dict[str, Any]:
        info = super()._extra_state_info()
        info.update(kernel_size=list(self.kernel_size), basis=self.basis_kind)
        return info

    def extra_repr(self) -> str:
        def short(t: tuple[int, ...]) -> Any:
            return t[0] if len(set(t)) == 1 else t

        s = f"{self.in_type!r}, {self.out_type!r}, kernel_size={short(self.kernel_size)}"
        if any(v != 1 for v in self.stride):
            s += f", stride={short(self.stride)}"
        if self._padding_same:
            s += ", padding='same'"
        elif any(self.padding):
            s += f", padding={short(self.padding)}"
        if any(v != 1 for v in self.dilation):
            s += f", dilation={short(self.dilation)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if not self._want_bias:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        if self.basis_kind != default_basis_kind(self.in_type.group):
            s += f", basis={self.basis_kind!r}"
        return s


class Conv2d(_ConvNd):
    r"""2-D convolution from ``in_type`` fields to ``out_type`` fields, equivariant by construction.

    The filter is ``weight @ basis``: a linear combination of the cached basis
    of filters solving ``K(g p) = rho_out(g) K(p) rho_in(g)^-1``
    (:func:`eqcnn.kernels.kernel_basis`), so for any weights

        ``conv(in_type.transform(x, g)) == out_type.transform(conv(x), g)``

    exactly (float32 relative error below 1e-5) for the rotations by multiples
    of 90 degrees and the reflections in the group, with circular padding or
    away from the borders otherwise, and for stride ``s`` when
    ``(H + 2 padding - k') % s == 0`` where ``k' = dilation (k - 1) + 1`` (see
    docs/concepts.md); approximately for other angles.  With
    ``eqcnn.Trivial()`` it is exactly ``torch.nn.Conv2d``: same parameter
    count, the weight in torch's ``(out, in, kh, kw)`` layout, same output.

    Arguments follow ``torch.nn.Conv2d`` in name and order; eqcnn's options come
    after them, keyword only.

    Args:
        in_type: field type of the input (its ``size`` is the channel count).
        out_type: field type of the output; same group as ``in_type``.
        kernel_size: odd int for groups larger than Trivial.
        stride, padding, dilation, groups, bias, padding_mode, device, dtype:
            as ``torch.nn.Conv2d``; ``padding`` may be ``"same"`` (an even kernel
            of ``Trivial()`` gets the extra row and column at the bottom and
            right, as in torch) or ``"valid"``;
            ``groups`` must be 1 except for ``Trivial()``.
        basis: ``"auto"`` (pixel basis for Trivial, harmonic otherwise),
            ``"harmonic"``, ``"pixel"`` (groups that map the grid onto itself),
            ``"escnn"`` (the harmonic basis on escnn's default rings, to load
            escnn's weights exactly: :func:`eqcnn.interop.escnn.load_escnn_weights`)
            or ``"lowpass"`` (the harmonic basis with every ring's band limit one
            lower and the outer ring's 1: fewer, smoother filters, which change
            less at angles off the grid; docs/howto/off-grid-angles.md).

    Shapes:
        ``(B, in_type.size, H, W) -> (B, out_type.size, H', W')`` with torch's
        formula for ``H'`` and ``W'``; unbatched ``(C, H, W)`` works too.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> conv = enn.Conv2d(G.trivial(3), G.regular(8), kernel_size=5, padding=2)
        >>> conv(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 32, 32, 32])
    """

    _dims = 2
    _conv = staticmethod(F.conv2d)
    _torch_cls = nn.Conv2d


class Conv3d(_ConvNd):
    r"""3-D convolution from ``in_type`` fields to ``out_type`` fields of volumes, equivariant by construction.

    The volumetric :class:`Conv2d`: over ``eqcnn.Octahedral()`` (24 rotations of
    the cube) or ``eqcnn.FullOctahedral()`` (48, with the inversion) the filter
    lies in the voxel basis (:mod:`eqcnn.kernels._voxel`), solved exactly on the
    ``k x k x k`` grid, so for any weights and every element ``g``

        ``conv(in_type.transform(x, g)) == out_type.transform(conv(x), g)``

    exactly (float32 relative error below 1e-5) on cubic inputs, away from the
    borders or with circular padding, and for stride ``s`` when
    ``(n + 2 padding - k') % s == 0`` on every axis (as in 2-D).  Filters into
    regular fields from trivial or regular ones are their free first row
    gathered into place (no basis is stored), so a regular -> regular layer
    has ``in_channels * k**3`` weights per output field, 1/|G| of a plain
    ``torch.nn.Conv3d`` of the same channels.  With ``eqcnn.Trivial()`` it is
    exactly ``torch.nn.Conv3d``: same parameter count, the weight in torch's
    ``(out, in, kd, kh, kw)`` layout, same output.

    Arguments follow ``torch.nn.Conv3d`` in name and order; ``basis`` is
    ``"auto"`` or ``"pixel"`` (the voxel basis, the only one for volumes).

    Shapes:
        ``(B, in_type.size, D, H, W) -> (B, out_type.size, D', H', W')`` with
        torch's formula; unbatched ``(C, D, H, W)`` works too.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Octahedral()
        >>> conv = enn.Conv3d(G.trivial(1), G.regular(2), kernel_size=3, padding=1)
        >>> conv(torch.randn(2, 1, 8, 8, 8)).shape
        torch.Size([2, 48, 8, 8, 8])
        >>> conv.weight.shape  # 2 output fields x 1 input channel x 27 voxels
        torch.Size([54])
    """

    _dims = 3
    _conv = staticmethod(F.conv3d)
    _torch_cls = nn.Conv3d
