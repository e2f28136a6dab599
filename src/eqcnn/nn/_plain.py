"""Plain PyTorch modules that :func:`eqcnn.nn.export` produces where torch has no
equivalent layer (norm and gated nonlinearities, group pooling, field dropout,
residual sums).  They hold only tensors and ints, use only torch operations,
and work with ``torch.jit.script``, ``torch.jit.trace`` and ``torch.onnx.export``.

The functions here are also what the equivariant layers call in ``forward``, so
a layer and its export compute the same thing by construction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "AntiAliasedPlain",
    "ChannelMapPlain",
    "FieldDropoutPlain",
    "FieldPoolPlain",
    "GatedActivationPlain",
    "GroupNormPlain",
    "NormActivationPlain",
    "ResidualPlain",
    "blur_image",
    "blur_matrix",
    "channel_map",
    "field_sums",
    "gaussian_taps",
    "upsample_image",
    "upsample_matrix",
]


def field_sums(x: torch.Tensor, runs: list[tuple[int, int, int]]) -> torch.Tensor:
    """Sum the channels of each field; ``runs`` lists ``(first channel, fields, channels per field)``."""
    return pool_fields(x, runs, "sum")


def norm_activation(
    x: torch.Tensor,
    runs: list[tuple[int, int, int]],
    index: torch.Tensor,
    bias: torch.Tensor | None,
    function: str,
    eps: float,
) -> torch.Tensor:
    """``v -> v * f(|v|) / |v|`` on every field ``v``: the norm is invariant, so this is equivariant."""
    norms = field_sums(x * x, runs).clamp_min(eps * eps).sqrt()
    if function == "squash":
        scale = norms / (norms * norms + 1.0)
    else:
        shifted = norms if bias is None else norms - bias.to(norms.dtype).view([1, -1] + [1] * (norms.dim() - 2))
        if function == "n_relu":
            scale = F.relu(shifted) / norms
        elif function == "n_sigmoid":
            scale = torch.sigmoid(shifted)
        else:  # n_softplus
            scale = F.softplus(shifted) / norms
    return x * scale.index_select(1, index)


class NormActivationPlain(nn.Module):
    """Plain form of :class:`eqcnn.nn.NormNonlinearity` (input ``(B, C, H, W)``)."""

    if TYPE_CHECKING:  # TorchScript must not see these (postponed) annotations
        index: torch.Tensor

    def __init__(
        self,
        runs: list[tuple[int, int, int]],
        index: torch.Tensor,
        bias: torch.Tensor | None,
        function: str,
        eps: float,
    ):
        super().__init__()
        self.runs = [(int(a), int(b), int(c)) for a, b, c in runs]
        self.register_buffer("index", index.clone())
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        self.function = function
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return norm_activation(x, self.runs, self.index, self.bias, self.function, self.eps)

    def extra_repr(self) -> str:
        return f"function={self.function!r}, runs={self.runs}"


class GatedActivationPlain(nn.Module):
    """Plain form of :class:`eqcnn.nn.GatedNonlinearity`: ``gated * sigmoid(gate)`` per field."""

    if TYPE_CHECKING:  # TorchScript must not see these (postponed) annotations
        index: torch.Tensor

    def __init__(self, num_gates: int, index: torch.Tensor):
        super().__init__()
        self.num_gates = num_gates
        self.register_buffer("index", index.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = torch.sigmoid(x[:, : self.num_gates])
        return x[:, self.num_gates :] * gates.index_select(1, self.index)

    def extra_repr(self) -> str:
        return f"num_gates={self.num_gates}"


def pool_fields(x: torch.Tensor, runs: list[tuple[int, int, int]], mode: str) -> torch.Tensor:
    """Max, mean or sum over the channels of each field; ``runs`` as in :class:`FieldPoolPlain`."""
    outs: list[torch.Tensor] = []
    B = x.shape[0]
    for start, count, d in runs:
        part = x[:, start : start + count * d].reshape([B, count, d] + list(x.shape[2:]))  # noqa: RUF005 (TorchScript: no starred list)
        if mode == "max":
            outs.append(part.amax(dim=2))
        elif mode == "mean":
            outs.append(part.mean(dim=2))
        else:
            outs.append(part.sum(dim=2))
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)


class FieldPoolPlain(nn.Module):
    """Plain form of :class:`eqcnn.nn.GroupPool`: max or mean over the channels of each field.

    ``runs`` lists ``(first channel, number of fields, channels per field)``.
    """

    def __init__(self, runs: list[tuple[int, int, int]], mode: str):
        super().__init__()
        self.runs = [(int(a), int(b), int(c)) for a, b, c in runs]
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pool_fields(x, self.runs, self.mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, runs={self.runs}"


class FieldDropoutPlain(nn.Module):
    """Plain form of :class:`eqcnn.nn.FieldDropout`: zero whole fields with probability ``p``."""

    if TYPE_CHECKING:  # TorchScript must not see these (postponed) annotations
        index: torch.Tensor

    def __init__(self, p: float, index: torch.Tensor, num_fields: int):
        super().__init__()
        self.p = p
        self.num_fields = num_fields
        self.register_buffer("index", index.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * x.new_zeros(())
        keep = torch.empty(x.shape[0], self.num_fields, 1, 1, dtype=x.dtype, device=x.device)
        keep = keep.bernoulli_(1.0 - self.p) / (1.0 - self.p)
        return x * keep.index_select(1, self.index)

    def extra_repr(self) -> str:
        return f"p={self.p}, fields={self.num_fields}"


def field_group_norm(
    x: torch.Tensor,
    mean_perm: torch.Tensor,
    mean_all: torch.Tensor,
    group_index: torch.Tensor,
    perm_mask: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    eps: float,
) -> torch.Tensor:
    """Group norm over groups of fields; see :class:`eqcnn.nn.GroupNorm`.

    ``mean_perm`` and ``mean_all`` are ``(groups, C)`` averaging matrices (over
    the group's permutation channels, and over all its channels),
    ``perm_mask`` marks the channels that are centred, ``weight`` and ``bias``
    are per channel.
    """
    xs = x.float() if x.dtype == torch.float16 or x.dtype == torch.bfloat16 else x
    spatial = list(range(2, x.dim()))  # pixels or voxels
    ones = [1] * len(spatial)
    m = xs.mean(dim=spatial)
    mu = (m @ mean_perm.to(xs.dtype).T).index_select(1, group_index) * perm_mask.to(xs.dtype)
    centred = xs - mu.reshape(list(mu.shape) + ones)
    var = centred.pow(2).mean(dim=spatial) @ mean_all.to(xs.dtype).T
    scale = torch.rsqrt(var + eps).index_select(1, group_index)
    if weight is not None:
        scale = scale * weight.to(xs.dtype)
    out = centred * scale.reshape(list(scale.shape) + ones)
    if bias is not None:
        out = out + bias.to(out.dtype).view([1, -1] + ones)  # noqa: RUF005 (TorchScript: no starred list)
    return out.to(x.dtype)


class GroupNormPlain(nn.Module):
    """Plain form of :class:`eqcnn.nn.GroupNorm` for field types torch's GroupNorm cannot express."""

    if TYPE_CHECKING:  # TorchScript must not see these (postponed) annotations
        mean_perm: torch.Tensor
        mean_all: torch.Tensor
        group_index: torch.Tensor
        perm_mask: torch.Tensor

    def __init__(
        self,
        mean_perm: torch.Tensor,
        mean_all: torch.Tensor,
        group_index: torch.Tensor,
        perm_mask: torch.Tensor,
        weight: torch.Tensor | None,
        bias: torch.Tensor | None,
        eps: float,
    ):
        super().__init__()
        self.register_buffer("mean_perm", mean_perm.clone())
        self.register_buffer("mean_all", mean_all.clone())
        self.register_buffer("group_index", group_index.clone())
        self.register_buffer("perm_mask", perm_mask.clone())
        self.weight = None if weight is None else nn.Parameter(weight.detach().clone())
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return field_group_norm(
            x, self.mean_perm, self.mean_all, self.group_index, self.perm_mask, self.weight, self.bias, self.eps
        )


class ResidualPlain(nn.Module):
    """Plain form of :class:`eqcnn.nn.ResidualBlock`: ``post(body(x) + shortcut(x))``."""

    def __init__(self, body: nn.Module, shortcut: nn.Module, post: nn.Module):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.post = post

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.body(x) + self.shortcut(x))


class ChannelMapPlain(nn.Module):
    """``y[:, i] = signs[i] * x[:, perm[i]]``: the channel reordering of a restriction (see ``Restrict``)."""

    if TYPE_CHECKING:  # TorchScript must not see these (postponed) annotations
        perm: torch.Tensor
        signs: torch.Tensor

    def __init__(self, perm: torch.Tensor, signs: torch.Tensor | None, spatial_dims: int = 2) -> None:
        super().__init__()
        self.spatial_dims = int(spatial_dims)
        self.register_buffer("perm", perm.clone(), persistent=False)
        self.has_signs = signs is not None
        self.register_buffer("signs", (signs if signs is not None else torch.ones(1)).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_map(x, self.perm, self.signs if self.has_signs else None, self.spatial_dims)


def channel_map(x: torch.Tensor, perm: torch.Tensor, signs: torch.Tensor | None, spatial_dims: int = 2) -> torch.Tensor:
    """Reorder (and sign) the channels, axis ``-3`` of ``(..., C, H, W)`` (``-4`` of ``(..., C, D, H, W)``)."""
    y = x.index_select(-(spatial_dims + 1), perm)
    if signs is not None:
        y = y * signs.to(y.dtype).view([-1] + [1] * spatial_dims)
    return y


def gaussian_taps(sigma: float) -> torch.Tensor:
    """A normalised 1-D Gaussian of standard deviation ``sigma`` taps, ``2 ceil(3 sigma) + 1`` taps long (float64;
    the layers cast it to their input's dtype)."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-(t**2) / (2 * sigma * sigma))
    return g / g.sum()


def upsample_matrix(n: int, factor: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(factor (n - 1) + 1, n)``: bicubic upsampling of one axis, every ``factor``-th row an input sample
    (``align_corners=True``, so the finer grid has the same centre and symmetries). Bicubic resampling is
    separable, so ``U_h x U_w^T`` is ``F.interpolate(x, mode="bicubic", align_corners=True)``."""
    eye = torch.eye(n, dtype=dtype, device=device).view(1, n, n, 1)
    out = F.interpolate(eye, size=(factor * (n - 1) + 1, 1), mode="bicubic", align_corners=True)
    return out[0, :, :, 0].t()


def blur_matrix(n: int, factor: int, taps: torch.Tensor) -> torch.Tensor:
    """``(n, factor (n - 1) + 1)``: blur one fine axis with ``taps`` (replicate padding) and keep every
    ``factor``-th sample from the first: back to the grid of :func:`upsample_matrix`."""
    fine = factor * (n - 1) + 1
    r = (taps.shape[0] - 1) // 2
    eye = torch.eye(fine, dtype=taps.dtype, device=taps.device).view(fine, 1, fine)
    rows = F.conv1d(F.pad(eye, (r, r), mode="replicate"), taps.view(1, 1, -1), None, factor)
    return rows[:, 0, :].t()


def upsample_image(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``(B, C, H, W) -> (B, C, factor (H - 1) + 1, factor (W - 1) + 1)`` by :func:`upsample_matrix` on each axis
    (one small matrix product per axis; the backward pass is two more). ``factor=1`` returns ``x``."""
    if factor == 1:
        return x
    uh = upsample_matrix(x.shape[-2], factor, x.dtype, x.device)
    uw = upsample_matrix(x.shape[-1], factor, x.dtype, x.device)
    return torch.matmul(torch.matmul(uh, x), uw.t())


def blur_image(y: torch.Tensor, factor: int, taps: torch.Tensor) -> torch.Tensor:
    """The inverse grid of :func:`upsample_image`: :func:`blur_matrix` on each axis."""
    taps = taps.to(device=y.device, dtype=y.dtype)
    bh = blur_matrix((y.shape[-2] - 1) // factor + 1, factor, taps)
    bw = blur_matrix((y.shape[-1] - 1) // factor + 1, factor, taps)
    return torch.matmul(torch.matmul(bh, y), bw.t())


class AntiAliasedPlain(nn.Module):
    """Plain form of :class:`eqcnn.nn.AntiAliased`: ``layer`` on a ``factor`` times finer grid, blurred back."""

    if TYPE_CHECKING:
        taps: torch.Tensor

    def __init__(self, layer: nn.Module, factor: int, taps: torch.Tensor) -> None:
        super().__init__()
        self.layer = layer
        self.factor = int(factor)
        self.register_buffer("taps", taps, persistent=False)

    def extra_repr(self) -> str:
        return f"factor={self.factor}, taps={self.taps.shape[0]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batched = x.dim() == 4
        if not batched:
            x = x.unsqueeze(0)
        y = blur_image(self.layer(upsample_image(x, self.factor)), self.factor, self.taps)
        return y if batched else y.squeeze(0)


def gaussian_window(n: int, spread: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(n,)``: a Gaussian about the centre of ``n`` samples, of standard deviation ``spread * n`` samples,
    summing to one (symmetric: ``w[i] == w[n - 1 - i]``)."""
    t = torch.arange(n, dtype=torch.float64, device=device) - (n - 1) / 2
    w = torch.exp(-(t * t) / (2.0 * (spread * n) ** 2))
    return (w / w.sum()).to(dtype)


def gaussian_average(x: torch.Tensor, spread: float) -> torch.Tensor:
    """``(B, C, H, W) -> (B, C, 1, 1)``: each channel's average weighted by the separable Gaussian of
    :func:`gaussian_window` on each axis (isotropic on a square map)."""
    h, w = x.shape[-2], x.shape[-1]
    wh = gaussian_window(h, spread, x.dtype, x.device)
    ww = gaussian_window(w, spread, x.dtype, x.device)
    return ((x @ ww) @ wh)[..., None, None]


class GaussianAvgPoolPlain(nn.Module):
    """Plain form of :class:`eqcnn.nn.GaussianAvgPool2d`: the Gaussian-weighted global average."""

    def __init__(self, spread: float) -> None:
        super().__init__()
        self.spread = spread

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gaussian_average(x, self.spread)

    def extra_repr(self) -> str:
        return f"spread={self.spread!r}"
