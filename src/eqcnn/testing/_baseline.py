"""The baseline for approximate transforms: the same architecture without the symmetry constraint."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from .._checks import check_int, check_module
from ..nn import EquivariantModule
from ._receptive_field import _is_transposed

__all__ = ["plain_baseline"]


def _is_equivariant_conv(m: nn.Module) -> bool:
    """An eqcnn convolution (plain or transposed): weights, kernel, stride, padding, dilation; not a pooling layer."""
    return (
        isinstance(m, EquivariantModule)
        and isinstance(getattr(m, "weight", None), nn.Parameter)
        and all(isinstance(getattr(m, a, None), (int, tuple)) for a in ("kernel_size", "stride", "padding", "dilation"))
    )


def _plain_conv(m: Any, generator: torch.Generator) -> nn.Conv2d | nn.ConvTranspose2d:
    p = next(m.parameters())
    common = dict(
        stride=m.stride,
        dilation=m.dilation,
        groups=getattr(m, "groups", 1),
        bias=getattr(m, "bias", None) is not None,
    )
    conv: nn.Conv2d | nn.ConvTranspose2d
    if _is_transposed(m):
        conv = nn.ConvTranspose2d(
            m.in_type.size,
            m.out_type.size,
            m.kernel_size,
            padding=m.padding,
            output_padding=getattr(m, "output_padding", 0),
            **common,
        )
        # an output pixel sums in/groups * kh * kw / (sh * sw) inputs on average (eqcnn's rule too)
        k, st = conv.kernel_size, conv.stride
        fan_in = conv.in_channels // conv.groups * k[0] * k[1] / (st[0] * st[1])
    else:
        same = getattr(m, "_same_extra", (0, 0)) != (0, 0)  # torch's asymmetric 'same' (even kernel)
        conv = nn.Conv2d(
            m.in_type.size,
            m.out_type.size,
            m.kernel_size,
            padding="same" if same else m.padding,
            padding_mode=getattr(m, "padding_mode", "zeros"),
            **common,
        )
        fan_in = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
    with torch.no_grad():  # He initialisation, as eqcnn's convolutions use; made on the CPU from a seed
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * math.sqrt(2.0 / fan_in))
        if conv.bias is not None:
            conv.bias.zero_()
    return conv.to(device=p.device, dtype=p.dtype)


def plain_baseline(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose eqcnn convolutions are plain ``torch.nn.Conv2d`` with fresh weights.

    Every equivariant convolution is replaced by an ``nn.Conv2d`` (a transposed
    one by an ``nn.ConvTranspose2d``) with the same channel counts, kernel,
    stride, padding, dilation, groups, bias and padding mode,
    He-initialised from ``seed``; everything else is kept.  This is the
    "ordinary CNN of the same shapes" that approximate equivariance is measured
    against.  A model without eqcnn convolutions gets its ``nn.Conv2d`` weights
    redrawn the same way (transposed ones too); a model without any convolution has no baseline
    (``ValueError``).

    Example:
        >>> import eqcnn
        >>> from eqcnn import nn as enn
        >>> from eqcnn.testing._baseline import plain_baseline
        >>> G = eqcnn.Cyclic(8)
        >>> plain_baseline(enn.Conv2d(G.trivial(1), G.regular(2), 3))
        Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1))
    """
    check_module("model", model)
    gen = torch.Generator().manual_seed(check_int("seed", seed))
    if _is_equivariant_conv(model):
        return _plain_conv(model, gen)
    copied = copy.deepcopy(model)
    replaced = False
    for parent in copied.modules():
        for name, child in list(parent.named_children()):
            if _is_equivariant_conv(child):
                setattr(parent, name, _plain_conv(child, gen))
                replaced = True
    if not replaced:
        if not any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in copied.modules()):
            raise ValueError(f"{type(model).__name__} has no convolution to free from the symmetry constraint")
        for m in copied.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                with torch.no_grad():
                    fan_in: float = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                    if m.transposed:
                        fan_in /= m.stride[0] * m.stride[1]
                    w = torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in)
                    m.weight.copy_(w.to(m.weight))
    return copied
