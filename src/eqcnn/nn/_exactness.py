"""Which input sizes keep 90-degree rotations and flips exact through strides and pools."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import nn

from .._checks import check_int, check_module, ntuple
from ._module import EquivariantModule

__all__ = ["ExactnessReport", "SamplingStep", "exact_input_sizes"]


@dataclass(frozen=True)
class SamplingStep:
    """One strided layer met by the input: the sampled grid is symmetric iff ``(size + 2 p - k') % s == 0``."""

    name: str
    input_size: tuple[int, ...]  # (H, W), or (D, H, W) for volumes
    kernel: tuple[int, ...]  # effective: dilation * (k - 1) + 1
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    output_padding: tuple[int, ...] = ()  # () or zeros: none

    @property
    def is_exact(self) -> bool:
        if any(self.output_padding):
            return False
        return all(
            (n + 2 * p - k) % s == 0 for n, p, k, s in zip(self.input_size, self.padding, self.kernel, self.stride)
        )


@dataclass(frozen=True)
class ExactnessReport:
    """The answer of :func:`exact_input_sizes`.

    Attributes:
        size: the input size asked about, ``(H, W)``.
        is_exact: whether every strided layer keeps the sampled grid symmetric
            at this size (so grid symmetries stay exact through the model).
        steps: every strided layer met, in order, with its input size.
        nearest: the nearest exact sizes below and above (``None`` where none
            was found in the searched range), as square sizes ``(n, n)`` when
            the input is square.
        exact_sizes: the exact sizes met while searching, sorted.
    """

    size: tuple[int, ...]
    is_exact: bool
    steps: tuple[SamplingStep, ...]
    nearest: tuple[tuple[int, ...] | None, tuple[int, ...] | None]
    exact_sizes: tuple[tuple[int, ...], ...] = field(default=())

    @property
    def breaking_steps(self) -> tuple[SamplingStep, ...]:
        """The strided layers that break the symmetry at ``size``."""
        return tuple(s for s in self.steps if not s.is_exact)

    def __str__(self) -> str:
        head = f"input size {self.size}: {'exact' if self.is_exact else 'NOT exact'}"
        lines = [head]
        for s in self.breaking_steps:
            lines.append(
                f"  {s.name}: input {s.input_size}, kernel {s.kernel}, stride {s.stride}, padding {s.padding}"
                + (f", output_padding {s.output_padding}" if any(s.output_padding) else "")
            )
        lines.append(f"  nearest exact sizes: below {self.nearest[0]}, above {self.nearest[1]}")
        return "\n".join(lines)


_PLAIN_3D = (nn.Conv3d, nn.MaxPool3d, nn.AvgPool3d, nn.ConvTranspose3d)


def _module_dims(module: nn.Module) -> int:
    """The spatial dimensions of a strided layer: 3 for the volumetric eqcnn and torch layers, else 2."""
    return 3 if getattr(module, "spatial_dims", None) == 3 or isinstance(module, _PLAIN_3D) else 2


def _sampling(module: nn.Module) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
    """(effective kernel, stride, padding, output_padding) of a strided layer (2-D or 3-D), else None."""
    from ._conv import _ConvNd
    from ._conv_transpose import _ConvTransposeNd
    from ._pool import BlurPool2d, _AvgPoolNd, _MaxPoolNd

    if isinstance(module, BlurPool2d):
        k = module.filter_size
        return (k, k), (module.stride, module.stride), (k // 2, k // 2), (0, 0)
    n = _module_dims(module)
    if isinstance(module, _ConvTransposeNd | nn.ConvTranspose2d | nn.ConvTranspose3d):
        return (1,) * n, (1,) * n, (0,) * n, ntuple("output_padding", module.output_padding, n)
    plain = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.Conv3d, nn.MaxPool3d, nn.AvgPool3d)
    if isinstance(module, (_ConvNd, _MaxPoolNd, _AvgPoolNd, *plain)):
        ks = ntuple("kernel_size", module.kernel_size, n)
        st = ntuple("stride", module.stride if module.stride is not None else ks, n)  # type: ignore[arg-type]
        dil = ntuple("dilation", getattr(module, "dilation", 1), n)
        pad = module.padding
        if isinstance(pad, str):  # "same" / "valid" on plain convs: stride 1 / no padding
            pad = 0 if pad == "valid" else tuple((d * (k - 1)) // 2 for d, k in zip(dil, ks))
        pad = ntuple("padding", pad, n)
        keff = tuple(d * (k - 1) + 1 for d, k in zip(dil, ks))
        return keff, st, pad, (0,) * n
    return None


def _transpose_output_padding(module: nn.Module, x: torch.Tensor, output_size: Any) -> tuple[int, ...]:
    """The output padding a transposed conv uses for ``forward(x, output_size)``."""
    from ._conv_transpose import _ConvTransposeNd

    if isinstance(module, _ConvTransposeNd):
        return module._output_padding(x, output_size)
    conv = cast(nn.ConvTranspose2d, module)
    n = _module_dims(module)
    stride, padding, kernel, dilation = (
        list(cast(tuple[int, ...], v)) for v in (conv.stride, conv.padding, conv.kernel_size, conv.dilation)
    )
    pad = conv._output_padding(x, list(output_size), stride, padding, kernel, n, dilation)
    return tuple(pad)


def _trace_steps(model: nn.Module, in_channels: int, size: tuple[int, ...]) -> tuple[SamplingStep, ...] | None:
    """Run ``model`` on a meta tensor and record the strided layers it meets (None if the size is too small)."""
    from ._conv_transpose import _ConvTransposeNd

    steps: list[SamplingStep] = []
    handles = []
    for name, m in model.named_modules():
        info = _sampling(m)
        transposed = isinstance(m, _ConvTransposeNd | nn.ConvTranspose2d | nn.ConvTranspose3d)
        if info is None or (all(v == 1 for v in info[1]) and not any(info[3]) and not transposed):
            continue  # stride 1 without output padding: always symmetric

        def hook(mod, args, kwargs, name=name, info=info, transposed=transposed):
            x = args[0]
            if transposed:  # forward(x, output_size) sets the output padding in place of the module's
                out = args[1] if len(args) > 1 else kwargs.get("output_size")
                if out is not None:
                    info = (*info[:3], _transpose_output_padding(mod, x, out))
                if not any(info[3]):
                    return
            steps.append(SamplingStep(name or type(mod).__name__, tuple(x.shape[-len(info[0]) :]), *info))

        handles.append(m.register_forward_pre_hook(hook, with_kwargs=True))
    p = next((t for t in model.parameters() if t.is_floating_point()), None)
    dtype = p.dtype if p is not None else torch.get_default_dtype()  # a float64 model takes float64 inputs
    try:
        with torch.no_grad():
            model(torch.zeros(2, in_channels, *size, device="meta", dtype=dtype))
    except (RuntimeError, ValueError):
        return None
    finally:
        for h in handles:
            h.remove()
    return tuple(steps)


def _meta_probe(model: nn.Module) -> nn.Module:
    """A copy of ``model`` on the ``meta`` device, in train mode, for tracing shapes without computing.

    Parameters and buffers are copied as meta tensors directly (a deep copy
    first would duplicate every weight on its device: a large model's GPU memory).
    """
    memo: dict[int, Any] = {}
    for t in itertools.chain(model.parameters(), model.buffers()):
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = nn.Parameter(meta, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else meta
    probe = copy.deepcopy(model, memo).to("meta")
    probe.train()  # no eval-mode caches of real tensors
    for m in probe.modules():
        if isinstance(m, EquivariantModule) and hasattr(m, "_cache"):
            m._cache = None  # type: ignore[assignment]
    return probe


def _model_dims(model: nn.Module) -> int:
    """2 for models of images, 3 for models of volumes (from the input type's group, else the layers)."""
    t = getattr(model, "in_type", None)
    dims = getattr(getattr(t, "group", None), "spatial_dims", None)
    if dims is not None:
        return dims
    for m in model.modules():
        if _sampling(m) is not None and not isinstance(m, nn.Sequential):
            return _module_dims(m)
    return 2


def exact_input_sizes(
    model: nn.Module, size: int | tuple[int, ...], in_channels: int | None = None, search: int = 64
) -> ExactnessReport:
    """Whether 90-degree rotations and flips stay exact through ``model`` at input ``size``; the nearest sizes that do.

    A layer with stride ``s``, effective kernel ``k' = dilation * (k - 1) + 1``
    and padding ``p`` keeps the sampled grid symmetric about the image centre
    iff ``(H + 2 p - k') % s == 0``; otherwise its output grid is shifted by a
    fraction of a pixel relative to the rotated input's, and a model that is
    exactly equivariant at other sizes is only approximately so.  Transposed
    convolutions with ``output_padding`` (or called with an ``output_size``
    that needs some) are never symmetric.  The model is run
    once per candidate size on the ``meta`` device (no computation), with hooks
    on every strided eqcnn and torch conv or pooling layer, so residual
    branches and custom ``forward`` methods are followed as they run.

    Args:
        model: an eqcnn model (or any ``nn.Module``; then give ``in_channels``).
        size: ``H`` (square) or ``(H, W)``; for a model of volumes (``Conv3d``
            layers, an octahedral group) ``n`` (a cube) or ``(D, H, W)``.
        in_channels: channels of the input; default ``model.in_type.size``.
        search: how far above and below ``size`` to look for exact sizes
            (the search stops at the first exact size on each side).

    Returns:
        an :class:`ExactnessReport` with ``.is_exact``, ``.nearest`` and
        ``.breaking_steps``.

    Example:
        >>> import eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> net = enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 3, stride=2, padding=1))
        >>> r = enn.exact_input_sizes(net, 28)
        >>> r.is_exact, r.nearest
        (False, ((27, 27), (29, 29)))
    """
    check_module("model", model)
    dims = _model_dims(model)
    if isinstance(size, (tuple, list)) and len(size) != dims:
        shape = "(H, W)" if dims == 2 else "(D, H, W)"
        raise ValueError(f"`size` must be an int or {shape} for a model of {'images' if dims == 2 else 'volumes'}, "
                         f"got {tuple(size)!r}")  # fmt: skip
    hw = ntuple("size", size, dims, minimum=1)
    search = check_int("search", search, minimum=0)
    if in_channels is not None:
        check_int("in_channels", in_channels, minimum=1)
    if in_channels is None:
        in_type = getattr(model, "in_type", None)
        if in_type is None:
            raise ValueError("`in_channels` is needed for a model without an `in_type`")
        in_channels = in_type.size
    probe = _meta_probe(model)
    cache: dict[tuple[int, ...], tuple[SamplingStep, ...] | None] = {}

    def steps_at(s: tuple[int, ...]) -> tuple[SamplingStep, ...] | None:
        if s not in cache:
            cache[s] = _trace_steps(probe, in_channels, s)
        return cache[s]

    def exact(s: tuple[int, ...]) -> bool:
        st = steps_at(s)
        return st is not None and all(x.is_exact for x in st)

    below = above = None
    found: list[tuple[int, ...]] = []
    for d in range(search + 1):  # outwards from `size`, until both sides are found
        for sign in (-1, 1) if d else (1,):
            c = tuple(v + sign * d for v in hw)
            if min(c) < 1 or (sign < 0 and below is not None) or (sign > 0 and d and above is not None):
                continue
            if exact(c):
                found.append(c)
                if sign < 0 or d == 0:
                    below = below or c
                if sign > 0:
                    above = above or c
        if below is not None and above is not None:
            break
    steps = steps_at(hw)
    if steps is None:
        raise ValueError(f"`size` {hw} is too small for the model (its forward pass fails)")
    return ExactnessReport(hw, all(s.is_exact for s in steps), steps, (below, above), tuple(sorted(set(found))))
