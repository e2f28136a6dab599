"""Receptive field of a model: from the module tree where possible, measured by gradients otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._checks import check_ints, check_module
from ._modes import eval_mode
from ._upsampled_shift import internal_periods, upsampling_grid

__all__ = ["ReceptiveField", "receptive_field"]

# Modules that act on each pixel on its own (in eval mode).
_POINTWISE = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign, nn.Tanhshrink,
    nn.Dropout, nn.Dropout2d,
)  # fmt: skip
_GLOBAL = (nn.Flatten, nn.Linear)


def _eqcnn_pointwise() -> tuple[type, ...]:
    """eqcnn's per-pixel layers (and their exported plain forms): each output pixel sees its own input pixel.

    Nonlinearities (pointwise, norm, gated), group pooling over the channels of a field, field dropout
    (the identity in eval mode) and ``Identity``; batch norm is added by :func:`_is_pointwise` where it
    uses running statistics.
    """
    from ..nn import FieldDropout, GatedNonlinearity, GroupPool, Identity, NormNonlinearity, PointwiseNonlinearity
    from ..nn._nonlinear import _NamedPointwise
    from ..nn._plain import FieldDropoutPlain, FieldPoolPlain, GatedActivationPlain, NormActivationPlain

    return (
        Identity, PointwiseNonlinearity, _NamedPointwise, NormNonlinearity, GatedNonlinearity, GroupPool,
        FieldDropout, NormActivationPlain, GatedActivationPlain, FieldPoolPlain, FieldDropoutPlain,
    )  # fmt: skip


def _is_pointwise(m: nn.Module) -> bool:
    """Whether ``m`` maps each pixel on its own in eval mode (torch's and eqcnn's activations, dropout,
    eqcnn's norm/gated nonlinearities and group pooling, batch norm with running statistics)."""
    from ..nn import BatchNorm2d

    if isinstance(m, _POINTWISE + _eqcnn_pointwise()):
        return True
    if isinstance(m, (nn.BatchNorm2d, BatchNorm2d)):  # eval mode uses the running statistics, if it keeps them
        return bool(m.track_running_stats)
    return False


@dataclass(frozen=True)
class ReceptiveField:
    """Which input pixels an output pixel sees, per axis ``(rows, columns)``.

    Output pixel ``(i, j)`` depends on input rows ``i * stride[0] - padding[0]``
    to ``i * stride[0] - padding[0] + size[0] - 1`` (and likewise for columns);
    rows outside ``[0, H)`` are padding.

    Attributes:
        size: extent of the receptive field in input pixels.
        stride: input pixels per output pixel (the product of the strides).
        padding: how far the first output pixel's field reaches before row/column 0.
        method: ``"analytic"`` (from the module tree), ``"empirical"`` (gradient
            support of a random input; a lower bound where ReLUs or max-pooling
            hide part of it) or ``"mixed"``.
        is_global: the output has no pixels left (e.g. after global pooling):
            every output sees the whole input.
        is_upsampling: some layer makes the image larger (transposed
            convolution, upsampling); ``stride`` and ``padding`` then do not
            describe the output grid, and shifts are not compared.
        is_fixed_grid: some layer has a fixed output size (adaptive pooling to
            more than one pixel, ``Upsample(size=...)``), or the output does not
            grow with the input as ``stride`` says (a model that runs at one
            input size only); such layers are not translation-equivariant, so
            shifts are not compared.
    """

    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    method: str = "analytic"
    is_global: bool = False
    is_upsampling: bool = False
    is_fixed_grid: bool = False

    def then(self, other: ReceptiveField) -> ReceptiveField:
        """The receptive field of this stage followed by ``other``."""
        size = tuple(a + (b - 1) * s for a, b, s in zip(self.size, other.size, self.stride))
        pad = tuple(p + q * s for p, q, s in zip(self.padding, other.padding, self.stride))
        stride = tuple(s * t for s, t in zip(self.stride, other.stride))
        method = self.method if self.method == other.method else "mixed"
        return ReceptiveField(
            size, stride, pad, method, self.is_global or other.is_global,  # type: ignore[arg-type]
            self.is_upsampling or other.is_upsampling, self.is_fixed_grid or other.is_fixed_grid,
        )  # fmt: skip

    def __str__(self) -> str:
        def one(p: tuple[int, int]) -> str:
            return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"

        if self.is_fixed_grid:
            return f"fixed output grid: the output size does not follow the input ({self.method})"
        if self.is_global:
            return f"global: every output sees the whole input ({self.method})"
        if self.is_upsampling:
            return f"upsampling: about {one(self.size)} px ({self.method})"
        g = ""
        return f"{one(self.size)} px, stride {one(self.stride)}, padding {one(self.padding)} ({self.method}{g})"


_IDENTITY = ReceptiveField((1, 1), (1, 1), (0, 0))


def _pair(v: Any) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _conv_like(m: nn.Module) -> ReceptiveField | None:
    """Conv2d (eqcnn or torch), max/avg pooling and eqcnn's BlurPool2d: read kernel, stride, padding and dilation."""
    from ..nn import BlurPool2d

    if isinstance(m, BlurPool2d):  # a binomial filter_size x filter_size blur, padded by half of it, subsampled
        f, step = int(m.filter_size), int(m.stride)
        return ReceptiveField((f, f), (step, step), (f // 2, f // 2))
    if not all(hasattr(m, a) for a in ("kernel_size", "stride", "padding")) or _is_transposed(m):
        return None
    if isinstance(m, (nn.Conv1d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool3d)):
        return None
    k, s = _pair(m.kernel_size), _pair(m.stride if m.stride is not None else m.kernel_size)
    d = _pair(getattr(m, "dilation", 1))
    keff = tuple(d_ * (k_ - 1) + 1 for d_, k_ in zip(d, k))
    pad: Any = m.padding
    if isinstance(pad, str):
        pad = (0, 0) if pad == "valid" else tuple((ke - 1) // 2 for ke in keff)
    return ReceptiveField(keff, s, _pair(pad))  # type: ignore[arg-type]


def output_grid(m: nn.Module) -> str | None:
    """How a resizing layer's output grid relates to its input: ``"global"`` (one pixel), ``"fixed"``
    (a set size: adaptive pooling to more than one pixel, ``Upsample(size=...)``), ``"identity"``
    (adaptive pooling to ``(None, None)``), or ``None`` for any other module."""
    from ..nn import AdaptiveAvgPool2d, AdaptiveMaxPool2d, Upsample

    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d)):
        size: Any = m.output_size
        out = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        if all(o is None for o in out):
            return "identity"  # torch keeps the input size along a None axis
        return "global" if all(o == 1 for o in out) else "fixed"
    if isinstance(m, (nn.Upsample, Upsample)) and getattr(m, "size", None) is not None:
        return "fixed"
    return None


def fixed_grid_layers(model: nn.Module) -> list[str]:
    """``"'name' (Type)"`` for every submodule of ``model`` whose output size is fixed (see :func:`output_grid`)."""
    return [f"'{n or '(model)'}' ({type(m).__name__})" for n, m in model.named_modules() if output_grid(m) == "fixed"]


def _is_transposed(m: nn.Module) -> bool:
    return bool(getattr(m, "transposed", False)) or "Transpose" in type(m).__name__


def _is_sequential(m: nn.Module) -> bool:
    return isinstance(m, nn.Sequential) or (
        type(m).forward is nn.Sequential.forward  # a subclass that keeps Sequential's forward
    )


def _empirical(m: nn.Module, shape: tuple[int, ...], trials: int = 3) -> ReceptiveField:
    """Support of the gradient of two neighbouring output pixels with respect to a random input.

    The module gets a copy of the input (a non-leaf), so in-place layers (``ReLU(inplace=True)``) work.
    """
    p = next(m.parameters(), None)
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    device = p.device if p is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(1234)
    H, W = shape[-2:]
    lo: list[list[Any]] = [[None, None], [None, None]]  # per output pixel (0: centre, 1: next), per axis
    hi: list[list[Any]] = [[None, None], [None, None]]
    out_hw = None
    with eval_mode(m, no_grad=False), torch.enable_grad():
        for _ in range(trials):
            x = torch.randn(shape, generator=gen).to(dtype=dtype, device=device).requires_grad_(True)
            y = m(x.clone())  # an in-place first layer must not write into the leaf it differentiates by
            if not isinstance(y, torch.Tensor) or y.dim() < 3:
                H, W = shape[-2:]
                return ReceptiveField((H, W), (H, W), (0, 0), "empirical", is_global=True)
            if not y.requires_grad:  # a step function, or a forward run under no_grad: nothing to differentiate
                raise ValueError(
                    f"cannot measure the receptive field of {type(m).__name__}: its output has no gradient with "
                    "respect to its input (a step such as (x > 0).float(), or torch.no_grad inside forward), and "
                    "it is measured by gradients"
                )
            out_hw = y.shape[-2:]
            ci, cj = out_hw[0] // 2, out_hw[1] // 2
            targets = [(ci, cj), (min(ci + 1, out_hw[0] - 1), min(cj + 1, out_hw[1] - 1))]
            v = torch.randn(y.shape[-3], generator=gen).to(dtype=dtype, device=device)
            for t, (i, j) in enumerate(targets):
                (g,) = torch.autograd.grad((y[0, :, i, j] * v).sum(), x, retain_graph=t == 0)
                sup = g[0].abs().sum(dim=0) > 0
                for axis, red in ((0, sup.any(dim=1)), (1, sup.any(dim=0))):
                    idx = torch.nonzero(red).flatten()
                    if idx.numel() == 0:
                        continue
                    a, b = int(idx.min()), int(idx.max())
                    lo[t][axis] = a if lo[t][axis] is None else min(lo[t][axis], a)
                    hi[t][axis] = b if hi[t][axis] is None else max(hi[t][axis], b)
    if out_hw is None:
        raise RuntimeError(f"could not measure the receptive field of {type(m).__name__}")
    if out_hw[0] > H or out_hw[1] > W:
        return ReceptiveField((H, W), (1, 1), (0, 0), "empirical", is_upsampling=True)
    if tuple(out_hw) == (1, 1) and (lo[0], hi[0]) == ([0, 0], [H - 1, W - 1]):  # one pixel that sees everything
        return ReceptiveField((H, W), (H, W), (0, 0), "empirical", is_global=True)
    size, stride, pad = [], [], []
    for axis, n_in, n_out in ((0, H, out_hw[0]), (1, W, out_hw[1])):
        centre = out_hw[axis] // 2
        if lo[0][axis] is None:  # no gradient at all: treat as a pixel-wise map
            size.append(1)
            stride.append(max(1, round(n_in / n_out)))
            pad.append(0)
            continue
        s = lo[1][axis] - lo[0][axis] if centre + 1 < n_out and lo[1][axis] is not None else round(n_in / n_out)
        s = max(1, s)
        size.append(hi[0][axis] - lo[0][axis] + 1)
        stride.append(s)
        pad.append(centre * s - lo[0][axis])
    fixed = not _grid_follows(m, shape, out_hw, stride, dtype, device)
    if fixed and _resamples(m, shape, dtype, device):  # e.g. a U-Net: pools, then upsampling back
        return ReceptiveField((H, W), (1, 1), (0, 0), "empirical", is_upsampling=True)
    if not fixed and _pools_inside(m, shape, stride, dtype, device):  # a U-Net that keeps the input's size
        return ReceptiveField((H, W), (1, 1), (0, 0), "empirical", is_upsampling=True)
    return ReceptiveField(tuple(size), tuple(stride), tuple(pad), "empirical", is_fixed_grid=fixed)  # type: ignore[arg-type]


def _eval_run(mod: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with eval_mode(mod):
        return mod(x)


def _resamples(m: nn.Module, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> bool:
    """Whether ``m``'s output grows by a fixed number of pixels for every ``p`` input pixels
    (:func:`~eqcnn.testing._upsampled_shift.upsampling_grid`), as a U-Net's does, where one step of the
    stride read from gradients does not describe it."""

    try:
        upsampling_grid(m, torch.zeros(shape, dtype=dtype, device=device), _eval_run)
    except Exception:  # NotComparable, or the model's own error at this size
        return False
    return True


def _pools_inside(
    m: nn.Module, shape: tuple[int, ...], stride: list[int], dtype: torch.dtype, device: torch.device
) -> bool:
    """Whether feature maps inside ``m`` are smaller than its input by more than its output's stride, so
    the stride read from two neighbouring output pixels does not say which shifts it follows (a U-Net
    that pads or resizes its upsampled maps to its skip connections' size; see
    :func:`~eqcnn.testing._upsampled_shift.internal_period`)."""

    inside = internal_periods(m, torch.zeros(shape, dtype=dtype, device=device), _eval_run)
    return any(p % s == 0 and p > s for p, s in zip(inside, stride))  # per axis: a stride (2, 1) is no U-Net


def _grid_follows(
    m: nn.Module, shape: tuple[int, ...], out_hw: Any, stride: list[int], dtype: torch.dtype, device: torch.device
) -> bool:
    """Whether ``m``'s output grows by one pixel per axis when its input grows by ``stride``.

    A chain of convolutions and pools does (each layer's floor is exact for a multiple of the total
    stride); a layer with a fixed output size, or a model that runs at one input size only, does not.
    """
    bigger = (*shape[:-2], shape[-2] + stride[0], shape[-1] + stride[1])
    try:
        with eval_mode(m):
            y = m(torch.zeros(bigger, dtype=dtype, device=device))
    except Exception:  # the module's own error at another size: its grid does not follow the input
        return False
    return isinstance(y, torch.Tensor) and y.dim() >= 3 and tuple(y.shape[-2:]) == (out_hw[0] + 1, out_hw[1] + 1)


def _walk(m: nn.Module, shapes: dict[int, tuple[int, ...]]) -> ReceptiveField:
    conv = _conv_like(m)
    if conv is not None:
        return conv
    grid = output_grid(m)
    if _is_pointwise(m) or grid == "identity":
        return _IDENTITY
    if grid is not None or isinstance(m, _GLOBAL):
        shape = shapes.get(id(m))
        H, W = shape[-2:] if shape is not None and len(shape) >= 3 else (1, 1)
        if grid == "fixed":  # the output size is set, whatever the input: no stride relates the grids
            return ReceptiveField((H, W), (1, 1), (0, 0), is_fixed_grid=True)
        return ReceptiveField((H, W), (H, W), (0, 0), is_global=True)
    if _is_sequential(m):
        rf = _IDENTITY
        for child in m.children():
            rf = rf.then(_walk(child, shapes))
            if rf.is_global or rf.is_fixed_grid:
                break
        return rf
    residual = _residual(m, shapes)
    if residual is not None:
        return residual
    if any(output_grid(d) == "fixed" for d in m.modules()):  # e.g. a U-Net upsampling to a set size
        shape = shapes.get(id(m))
        H, W = shape[-2:] if shape is not None and len(shape) >= 3 else (1, 1)
        return ReceptiveField((H, W), (1, 1), (0, 0), is_fixed_grid=True)
    shape = shapes.get(id(m))
    if shape is None:
        raise RuntimeError(f"the receptive field of {type(m).__name__} needs an example input; pass `input_shape`")
    return _empirical(m, shape)


def _residual(m: nn.Module, shapes: dict[int, tuple[int, ...]]) -> ReceptiveField | None:
    """``post(body(x) + shortcut(x))`` (eqcnn's ``ResidualBlock`` or its export): the hull of the body's and
    the shortcut's windows, then ``post``; ``None`` where that does not describe it (strides that differ,
    a global, fixed or upsampled grid in a branch), which is then measured."""
    from ..nn import ResidualBlock
    from ..nn._plain import ResidualPlain

    if not isinstance(m, (ResidualBlock, ResidualPlain)):
        return None
    body = _walk(m.body, shapes)
    short = _IDENTITY if m.shortcut is None else _walk(m.shortcut, shapes)
    if any(r.is_global or r.is_fixed_grid or r.is_upsampling for r in (body, short)) or body.stride != short.stride:
        return None
    first = (min(-body.padding[0], -short.padding[0]), min(-body.padding[1], -short.padding[1]))
    last = (
        max(body.size[0] - body.padding[0], short.size[0] - short.padding[0]),
        max(body.size[1] - body.padding[1], short.size[1] - short.padding[1]),
    )
    method = body.method if body.method == short.method else "mixed"
    rf = ReceptiveField((last[0] - first[0], last[1] - first[1]), body.stride, (-first[0], -first[1]), method)
    return rf if m.post is None else rf.then(_walk(m.post, shapes))


def receptive_field(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> ReceptiveField:
    """The receptive field of ``model``'s output pixels in its input.

    Computed from the module tree for Conv2d (eqcnn's and torch's: kernel,
    stride, dilation, padding), max/average pooling, point-wise modules
    (torch's and eqcnn's activations, eqcnn's norm and gated nonlinearities,
    ``GroupPool``, dropout, batch norm with running statistics),
    ``nn.Sequential`` (torch's and eqcnn's) and eqcnn's ``ResidualBlock`` (the
    hull of its body's and shortcut's windows); adaptive pooling to one pixel
    makes it global, and layers with a fixed output size (adaptive pooling to
    more pixels, ``Upsample(size=...)``, eqcnn's or torch's, also inside
    another module) make it a fixed grid (``is_fixed_grid``).  Any other
    module (a plain residual block, a custom layer) is measured empirically:
    the support of the gradient of two neighbouring output pixels with respect
    to random inputs of the shape that reaches it, in ``eval`` mode (a lower
    bound where ReLUs or max-pooling hide part of it); if its output does not
    then grow by one pixel when its input grows by the measured stride, it is
    a fixed grid too.

    Args:
        model: any module mapping ``(B, C, H, W)`` to ``(B, C', H', W')``.
        input_shape: ``(B, C, H, W)`` used for the empirical part (default:
            ``(1, C, 64, 64)`` with ``C`` from ``model.in_type`` or the first conv).

    Example:
        >>> from torch import nn
        >>> from eqcnn.testing import receptive_field
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 5, stride=2, padding=2))
        >>> print(receptive_field(net))
        7 px, stride 2, padding 3 (analytic)
    """
    check_module("model", model)
    if input_shape is not None:
        input_shape = check_ints("input_shape", input_shape, minimum=1)
        if len(input_shape) not in (3, 4):
            raise ValueError(f"`input_shape` must be (B, C, H, W) or (C, H, W), got {input_shape}")
    shapes: dict[int, tuple[int, ...]] = {}
    try:
        return _walk(model, shapes)
    except RuntimeError:
        pass
    if input_shape is None:
        from ._declare import input_channels

        input_shape = (1, input_channels(model), 64, 64)

    def record(mod: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], torch.Tensor):
            shapes.setdefault(id(mod), tuple(args[0].shape))

    hooks = [mod.register_forward_pre_hook(record) for mod in model.modules()]
    p = next(model.parameters(), None)
    try:
        with torch.no_grad():
            x = torch.zeros(
                input_shape, dtype=p.dtype if p is not None else None, device=p.device if p is not None else None
            )
            with eval_mode(model):
                model(x)
    finally:
        for h in hooks:
            h.remove()
    return _walk(model, shapes)
