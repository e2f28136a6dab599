"""Spatial pooling (max, average, adaptive, anti-aliased) and pooling over the group."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, check_number, ntuple
from ..fields import FieldType
from ._fieldutil import check_dims, check_field_type, require_permutation
from ._module import EquivariantModule
from ._plain import FieldPoolPlain, GaussianAvgPoolPlain, gaussian_average, pool_fields

__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool2d",
    "AvgPool3d",
    "BlurPool2d",
    "GaussianAvgPool2d",
    "GroupPool",
    "MaxPool2d",
    "MaxPool3d",
]

_EXACT_NOTE = (
    "A stride-``s`` window of size ``k`` keeps the sampled grid symmetric, hence "
    "90-degree rotations and flips exact, iff ``(H + 2 * padding - k') % s == 0`` "
    "(``k' = dilation * (k - 1) + 1``); see :func:`eqcnn.nn.exact_input_sizes`."
)


def _fmt(v: tuple[int, ...]) -> Any:
    return v[0] if len(set(v)) == 1 else v


class _MaxPoolNd(EquivariantModule):
    """The max pool of :class:`MaxPool2d` and :class:`MaxPool3d`, for ``_dims`` spatial dimensions."""

    _dims = 2
    _pool: Any = staticmethod(F.max_pool2d)
    _torch_pool: type[nn.Module] = nn.MaxPool2d

    def __init__(
        self,
        in_type: FieldType,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] | None = None,
        padding: int | tuple[int, ...] = 0,
        dilation: int | tuple[int, ...] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        name, n = type(self).__name__, self._dims
        check_dims(name, in_type, n)
        self.spatial_dims = n
        require_permutation(in_type, name, f"use AvgPool{n}d{' or BlurPool2d' if n == 2 else ''}, or NormPool for "
                            "invariant norms")  # fmt: skip
        self.return_indices = bool(return_indices)
        self.in_type = self.out_type = in_type
        self.kernel_size = ntuple("kernel_size", kernel_size, n, minimum=1)
        self.stride = self.kernel_size if stride is None else ntuple("stride", stride, n, minimum=1)
        self.padding = ntuple("padding", padding, n, minimum=0)
        self.dilation = ntuple("dilation", dilation, n, minimum=1)
        self.ceil_mode = bool(ceil_mode)
        if any(p * 2 > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"`padding` (={padding}) must be at most half of `kernel_size` (={kernel_size})")

    def forward(self, x: torch.Tensor) -> Any:
        self.check_input(x)
        if self.return_indices:
            return self._pool(
                x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, return_indices=True
            )
        return self._pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def export(self) -> nn.Module:
        return self._torch_pool(
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            return_indices=self.return_indices,
            ceil_mode=self.ceil_mode,
        )

    def extra_repr(self) -> str:
        s = f"{self.in_type!r}, kernel_size={_fmt(self.kernel_size)}"
        if self.stride != self.kernel_size:
            s += f", stride={_fmt(self.stride)}"
        if any(self.padding):
            s += f", padding={_fmt(self.padding)}"
        if any(d != 1 for d in self.dilation):
            s += f", dilation={_fmt(self.dilation)}"
        if self.return_indices:
            s += ", return_indices=True"
        if self.ceil_mode:
            s += ", ceil_mode=True"
        return s


class _AvgPoolNd(EquivariantModule):
    """The average pool of :class:`AvgPool2d` and :class:`AvgPool3d`, for ``_dims`` spatial dimensions."""

    _dims = 2
    _pool: Any = staticmethod(F.avg_pool2d)
    _torch_pool: type[nn.Module] = nn.AvgPool2d

    def __init__(
        self,
        in_type: FieldType,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] | None = None,
        padding: int | tuple[int, ...] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        n = self._dims
        check_dims(type(self).__name__, in_type, n)
        self.spatial_dims = n
        self.divisor_override = None if divisor_override is None else check_int("divisor_override", divisor_override, 1)
        self.in_type = self.out_type = in_type
        self.kernel_size = ntuple("kernel_size", kernel_size, n, minimum=1)
        self.stride = self.kernel_size if stride is None else ntuple("stride", stride, n, minimum=1)
        self.padding = ntuple("padding", padding, n, minimum=0)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        if any(p * 2 > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"`padding` (={padding}) must be at most half of `kernel_size` (={kernel_size})")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self._pool(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def export(self) -> nn.Module:
        return self._torch_pool(
            self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad, self.divisor_override
        )

    def extra_repr(self) -> str:
        s = f"{self.in_type!r}, kernel_size={_fmt(self.kernel_size)}"
        if self.stride != self.kernel_size:
            s += f", stride={_fmt(self.stride)}"
        if any(self.padding):
            s += f", padding={_fmt(self.padding)}"
        if self.ceil_mode:
            s += ", ceil_mode=True"
        if not self.count_include_pad:
            s += ", count_include_pad=False"
        if self.divisor_override is not None:
            s += f", divisor_override={self.divisor_override}"
        return s


def _output_size(name: str, value: Any, n: int = 2) -> tuple[int | None, ...]:
    """An int, or ``n`` ints and ``None`` (keep that input size), as torch's adaptive pools take."""
    what = "a pair" if n == 2 else f"a tuple of {n}"
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"`{name}` must be an int or {what} of ints or None, got {value!r}")
        return tuple(None if v is None else check_int(name, v, 1) for v in value)
    if value is None:
        raise TypeError(f"`{name}` must be an int or {what} of ints or None, got None (use {tuple([None] * n)!r})")
    v = check_int(name, value, 1)
    return (v,) * n


class _AdaptiveAvgPoolNd(EquivariantModule):
    """The adaptive average pool of :class:`AdaptiveAvgPool2d` and :class:`AdaptiveAvgPool3d`."""

    _torch: type[nn.Module] = nn.AdaptiveAvgPool2d
    _needs_permutation = False
    _dims = 2
    _pool: Any = staticmethod(F.adaptive_avg_pool2d)

    def __init__(self, in_type: FieldType, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        n = self._dims
        check_dims(type(self).__name__, in_type, n)
        self.spatial_dims = n
        if self._needs_permutation:
            require_permutation(in_type, type(self).__name__, f"use AdaptiveAvgPool{n}d instead")
        self.in_type = self.out_type = in_type
        self.output_size = _output_size("output_size", output_size, n)
        group = in_type.group
        if n == 3 and len(set(self.output_size)) > 1 and group.order > 1:
            raise ValueError(
                f"`output_size` (={output_size!r}) must be the same along the three axes for {group!r}: its rotations "
                "exchange the axes, and pooling to a non-cubic output is not equivariant under them"
            )
        if n == 2 and self.output_size[0] != self.output_size[1] and group.N > 2:
            raise ValueError(
                f"`output_size` (={output_size!r}) must be the same along both axes for {group!r}: its rotations "
                "swap the axes, and pooling to a non-square output is not equivariant under them"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self._pool(x, self.output_size)  # None entries: keep that input size

    def export(self) -> nn.Module:
        return self._torch(self.output_size)

    def extra_repr(self) -> str:
        size = self.output_size
        return f"{self.in_type!r}, output_size={size if size[0] is None or len(set(size)) > 1 else size[0]}"


class GaussianAvgPool2d(EquivariantModule):
    """A global average weighted by a Gaussian about the map's centre: invariant features that a turn moves less.

    ``AdaptiveAvgPool2d(t, 1)`` weighs every pixel of the square map alike, so
    its footprint is a square: turned by 45 degrees, the features near its
    corners leave it and others come in. This layer weighs each pixel by a
    Gaussian of standard deviation ``spread * H`` (``spread * W`` across) about
    the centre, a round footprint that stays where it is under any rotation.
    On the demo's C8 digit classifier (with ``AntiAliased`` ELUs and the
    low-pass basis) it raised the worst accuracy over 15-degree turns from
    88.6% to 91.3%, upright 94.1% -> 94.3% (means of 3 seeds,
    ``benchmarks/demo_variants.py``).

    Averaging is linear and the weights are symmetric, so on any field the
    layer is exactly equivariant for the grid symmetries (flips; quarter turns
    on square maps) and approximately for other rotations. It has no
    parameters.

    Args:
        in_type: the field type (any fields).
        spread: the Gaussian's standard deviation as a fraction of the map's side (> 0; default 0.25:
            the weight at the middle of an edge is ``exp(-2)`` of the centre's).

    Shapes: ``(B, C, H, W) -> (B, C, 1, 1)``, as ``AdaptiveAvgPool2d(t, 1)``; unbatched ``(C, H, W) -> (C, 1, 1)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> pool = enn.GaussianAvgPool2d(eqcnn.Cyclic(8).trivial(3))
        >>> pool
        GaussianAvgPool2d(Cyclic(8).trivial(3), spread=0.25)
        >>> x = torch.randn(2, 3, 8, 8)
        >>> pool(x).shape
        torch.Size([2, 3, 1, 1])
        >>> bool(torch.allclose(pool(torch.rot90(x, 1, (2, 3))), pool(x), atol=1e-6))
        True
    """

    def __init__(self, in_type: FieldType, spread: float = 0.25) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        check_dims(type(self).__name__, in_type, 2)
        self.spatial_dims = 2
        self.in_type = self.out_type = in_type
        self.spread = float(check_number("spread", spread))
        if not self.spread > 0:
            raise ValueError(
                f"`spread` must be > 0 (the Gaussian's standard deviation over the map's side), got {spread!r}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return gaussian_average(x, self.spread)

    def export(self) -> nn.Module:
        return GaussianAvgPoolPlain(self.spread)

    def _extra_state_info(self) -> dict[str, Any]:
        return {**super()._extra_state_info(), "spread": self.spread}

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, spread={self.spread!r}"


class _AdaptiveMaxPoolNd(_AdaptiveAvgPoolNd):
    """The adaptive max pool of :class:`AdaptiveMaxPool2d` and :class:`AdaptiveMaxPool3d`."""

    _torch: type[nn.Module] = nn.AdaptiveMaxPool2d
    _needs_permutation = True
    _pool: Any = staticmethod(F.adaptive_max_pool2d)

    def __init__(
        self, in_type: FieldType, output_size: int | tuple[int | None, int | None], return_indices: bool = False
    ) -> None:
        super().__init__(in_type, output_size)
        self.return_indices = bool(return_indices)

    def forward(self, x: torch.Tensor) -> Any:
        self.check_input(x)
        size: Any = self.output_size  # None entries: keep that input size
        if self.return_indices:
            return self._pool(x, size, True)
        return self._pool(x, size)

    def export(self) -> nn.Module:
        return self._torch(self.output_size, self.return_indices)  # type: ignore[call-arg]

    def extra_repr(self) -> str:
        return super().extra_repr() + (", return_indices=True" if self.return_indices else "")


class MaxPool2d(_MaxPoolNd):
    """``torch.nn.MaxPool2d`` on trivial and regular fields.

    The maximum is taken channel by channel, so it commutes with channel
    permutations: exactly equivariant on permutation fields (irreps fields are
    rejected; pool their norms or use :class:`AvgPool2d`).  Exact for a
    grid symmetry when the sampled grid is symmetric: {note}

    With ``return_indices=True`` the forward returns ``(output, indices)`` as
    torch's (for ``torch.nn.MaxUnpool2d``): the output is equivariant as
    above; the indices are flat positions in each input map, not a field.

    Shapes: ``(B, C, H, W) -> (B, C, H', W')`` with torch's formula.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> pool = enn.MaxPool2d(eqcnn.Cyclic(4).regular(2), 3, stride=2, padding=1)
        >>> pool(torch.randn(1, 8, 9, 9)).shape
        torch.Size([1, 8, 5, 5])
    """

    _dims = 2
    _pool: Any = staticmethod(F.max_pool2d)
    _torch_pool: type[nn.Module] = nn.MaxPool2d


class MaxPool3d(_MaxPoolNd):
    """``torch.nn.MaxPool3d`` on trivial and regular fields of volumes (see :class:`MaxPool2d`): exact for
    every octahedral element when the sampled grid is symmetric on each axis.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> enn.MaxPool3d(eqcnn.Octahedral().regular(1), 2)(torch.randn(1, 24, 8, 8, 8)).shape
        torch.Size([1, 24, 4, 4, 4])
    """

    _dims = 3
    _pool: Any = staticmethod(F.max_pool3d)
    _torch_pool: type[nn.Module] = nn.MaxPool3d


class AvgPool2d(_AvgPoolNd):
    """``torch.nn.AvgPool2d`` on any fields (averaging is linear, so it commutes with every representation).

    Exact for a grid symmetry when the sampled grid is symmetric: {note}
    ``divisor_override`` (a positive int) divides every window's sum by the
    same number, as in torch, which keeps that (torch's TorchScript-based ONNX
    exporter ignores it in the exported ``torch.nn.AvgPool2d``).

    Shapes: ``(B, C, H, W) -> (B, C, H', W')`` with torch's formula.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> enn.AvgPool2d(eqcnn.Cyclic(8).irreps_field(1), 2)(torch.randn(1, 2, 9, 9)).shape
        torch.Size([1, 2, 4, 4])
    """

    _dims = 2
    _pool: Any = staticmethod(F.avg_pool2d)
    _torch_pool: type[nn.Module] = nn.AvgPool2d


class AvgPool3d(_AvgPoolNd):
    """``torch.nn.AvgPool3d`` on any fields of volumes (see :class:`AvgPool2d`)."""

    _dims = 3
    _pool: Any = staticmethod(F.avg_pool3d)
    _torch_pool: type[nn.Module] = nn.AvgPool3d


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """``torch.nn.AdaptiveAvgPool2d`` on any fields.

    torch's adaptive bins are mirror-symmetric for every input and output size
    (bin ``i`` spans ``[floor(i H / n), ceil((i + 1) H / n))``), so the layer is
    exactly equivariant for every grid symmetry at every input size (square
    inputs for 90-degree turns).  ``output_size=1`` gives invariant features.

    ``output_size`` is an int or a pair, whose entries may be ``None`` (keep
    that input size), as in torch.  For groups with rotations other than by
    180 degrees both entries must be the same (``(None, None)`` keeps the
    input's size): their rotations swap the axes, so a non-square output
    (``(2, 3)``, or ``(None, 3)`` of a square input other than 3x3) cannot be
    equivariant.  (torch's adaptive pools with a ``None`` entry, which
    :meth:`export` gives, do not compile with ``torch.jit.script``.)

    Shapes: ``(B, C, H, W) -> (B, C, *output_size)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> enn.AdaptiveAvgPool2d(eqcnn.Cyclic(4).regular(2), 1)(torch.randn(3, 8, 10, 10)).shape
        torch.Size([3, 8, 1, 1])
    """

    _torch: type[nn.Module] = nn.AdaptiveAvgPool2d
    _dims = 2
    _pool: Any = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """``torch.nn.AdaptiveAvgPool3d`` on any fields of volumes (see :class:`AdaptiveAvgPool2d`); for a group
    with rotations the output must be cubic.  ``output_size=1`` gives invariant features."""

    _torch: type[nn.Module] = nn.AdaptiveAvgPool3d
    _dims = 3
    _pool: Any = staticmethod(F.adaptive_avg_pool3d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """``torch.nn.AdaptiveMaxPool2d`` on trivial and regular fields (exact at every size, and ``output_size``
    checked, as the average version); ``return_indices`` as in :class:`MaxPool2d`."""

    _torch: type[nn.Module] = nn.AdaptiveMaxPool2d
    _dims = 2
    _pool: Any = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """``torch.nn.AdaptiveMaxPool3d`` on trivial and regular fields of volumes (see :class:`AdaptiveMaxPool2d`)."""

    _torch: type[nn.Module] = nn.AdaptiveMaxPool3d
    _dims = 3
    _pool: Any = staticmethod(F.adaptive_max_pool3d)


MaxPool2d.__doc__ = (MaxPool2d.__doc__ or "").replace("{note}", _EXACT_NOTE)
AvgPool2d.__doc__ = (AvgPool2d.__doc__ or "").replace("{note}", _EXACT_NOTE)


def _binomial(n: int) -> torch.Tensor:
    row = torch.tensor([1.0])
    for _ in range(n - 1):
        row = torch.cat([row, torch.zeros(1)]) + torch.cat([torch.zeros(1), row])
    return row / row.sum()


class BlurPool2d(EquivariantModule):
    """Anti-aliased downsampling (Zhang, 2019): blur with a binomial filter, then subsample.

    The blur is the same symmetric ``filter_size x filter_size`` binomial
    filter (``[1, 2, 1] / 4`` outer itself for size 3) on every channel, so it
    commutes with every representation and every grid symmetry.  Exactly
    equivariant when the subsampled grid is symmetric: with ``padding =
    filter_size // 2`` that is ``(H - 1) % stride == 0`` for odd filters (see
    :func:`eqcnn.nn.exact_input_sizes`).  To anti-alias a max pool, use
    ``MaxPool2d(t, 2, stride=1)`` followed by ``BlurPool2d(t, stride=2)``.

    Args:
        in_type: field type (any representations).
        stride: subsampling factor.
        filter_size: odd size of the binomial filter (1 = plain subsampling).
        padding_mode: ``"reflect"`` (default), ``"replicate"``, ``"circular"`` or ``"zeros"``.

    Shapes: ``(B, C, H, W) -> (B, C, (H - 1) // stride + 1, ...)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> enn.BlurPool2d(eqcnn.Cyclic(4).regular(2), stride=2)(torch.randn(1, 8, 9, 9)).shape
        torch.Size([1, 8, 5, 5])
    """

    filter: torch.Tensor

    def __init__(
        self, in_type: FieldType, stride: int = 2, filter_size: int = 3, padding_mode: str = "reflect"
    ) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        check_dims("BlurPool2d", in_type, 2)
        self.spatial_dims = 2
        self.stride = check_int("stride", stride, minimum=1)
        self.filter_size = check_int("filter_size", filter_size, minimum=1)
        if self.filter_size % 2 == 0:
            raise ValueError(f"`filter_size` must be odd (its centre must be a pixel), got {filter_size}")
        self.padding_mode = check_choice("padding_mode", padding_mode, ("reflect", "replicate", "circular", "zeros"))
        self.in_type = self.out_type = in_type
        row = _binomial(self.filter_size)
        self.register_buffer(
            "filter", (row[:, None] * row[None, :]).expand(in_type.size, 1, -1, -1).contiguous(), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if x.dim() == 3:
            return self.forward(x[None])[0]
        p = self.filter_size // 2
        filt = self.filter.to(x.dtype)
        if self.padding_mode != "zeros" and p > 0:
            x = F.pad(x, (p, p, p, p), mode=self.padding_mode)
            return F.conv2d(x, filt, None, self.stride, 0, 1, self.in_type.size)
        return F.conv2d(x, filt, None, self.stride, p, 1, self.in_type.size)

    def export(self) -> nn.Module:
        C, p = self.in_type.size, self.filter_size // 2
        conv = nn.Conv2d(
            C,
            C,
            self.filter_size,
            self.stride,
            p,
            groups=C,
            bias=False,
            padding_mode=self.padding_mode,
            device=self.filter.device,
        )
        conv.weight.requires_grad_(False)
        with torch.no_grad():
            conv.weight.copy_(self.filter)
        return conv

    def extra_repr(self) -> str:
        s = f"{self.in_type!r}, stride={self.stride}"
        if self.filter_size != 3:
            s += f", filter_size={self.filter_size}"
        if self.padding_mode != "reflect":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class GroupPool(EquivariantModule):
    """Pool each field over the group: max or mean over its channels, giving one invariant channel per field.

    For a regular field the channels are indexed by the group, so their max
    (or mean) does not change when ``g`` permutes them: the output is a
    trivial field, ``out_type = G.trivial(len(in_type))``, and the layer is
    exactly equivariant (invariant in the channels, pixels still move).
    Trivial fields pass through.  Fields that are not permutations (irreps)
    are rejected: use the field norm (:class:`NormNonlinearity` first) instead.

    A type made only of trivial fields has no group axis to pool over, so for a
    group with more than one element it is refused (``ValueError``): pass
    regular fields, or drop the layer.  For ``Trivial()`` every field is trivial
    (its regular field is the trivial one) and the layer is the identity, so
    the same model code (``GroupPool(G.regular(n))``) still builds the ordinary
    CNN when ``G = Trivial()``.

    Args:
        in_type: trivial and regular fields, at least one regular one unless the
            group is ``Trivial()``.
        mode: ``"max"`` or ``"mean"``.

    Shapes: ``(B, in_type.size, H, W) -> (B, len(in_type), H, W)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> pool = enn.GroupPool(eqcnn.Cyclic(8).regular(4))
        >>> pool.out_type
        Cyclic(8).trivial(4)
        >>> pool(torch.randn(2, 32, 5, 5)).shape
        torch.Size([2, 4, 5, 5])
    """

    def __init__(self, in_type: FieldType, mode: Literal["max", "mean"] = "max") -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        check_choice("mode", mode, ("max", "mean"))
        require_permutation(in_type, "GroupPool", "pool the field norms instead (NormPool)")
        if in_type.group.order > 1 and in_type.is_trivial:
            raise ValueError(
                f"`in_type` of GroupPool has only trivial fields, so there is nothing to pool over the group; got "
                f"{in_type!r}; "
                + (
                    f"a continuous group's fields pool with NormPool (e.g. NormPool({in_type.group!r}.bl_regular(n)))"
                    if in_type.group.is_continuous
                    else f"pass regular fields (e.g. {in_type.group!r}.regular(n)) or drop the layer"
                )
            )
        self.mode = mode
        self.in_type = in_type
        self.out_type = in_type.group.trivial(len(in_type))
        self._runs = in_type.channel_runs()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = self.check_input(x)
        if x.dim() == dims + 1:  # unbatched
            return pool_fields(x[None], self._runs, self.mode)[0]
        return pool_fields(x, self._runs, self.mode)

    def export(self) -> nn.Module:
        return FieldPoolPlain(self._runs, self.mode)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}" + (f", mode={self.mode!r}" if self.mode != "max" else "")
