"""A feature map under a rotated input: does it turn with the input?"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from .._checks import check_int, describe
from ..fields import FieldType, rotate_pixels
from ._mpl import new_figure

__all__ = ["plot_rotated_features", "rotated_features"]


def rotated_features(
    features: torch.nn.Module, out_type: FieldType, x: torch.Tensor, degrees: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(features(g x), g . features(x), g x)`` for the rotation ``g`` by ``degrees`` counter-clockwise.

    ``x`` is one image ``(C, H, W)`` or a batch ``(B, C, H, W)``. ``g . f`` moves
    the pixels of ``f`` and, when the angle is an element of ``out_type``'s group,
    transforms its fibres too (for a regular field: a cyclic shift of its
    channels). When ``features`` is equivariant the first two agree: exactly for
    multiples of 90 degrees in the group, approximately for other angles in it.
    For trivial fields (an ordinary CNN) any angle is allowed and only the
    pixels move.

    ``features`` runs in eval mode without gradients (batch norm uses its
    running statistics and leaves them unchanged, dropout is off), as in
    :mod:`eqcnn.testing`; its previous mode is restored afterwards.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> conv = enn.Conv2d(G.trivial(1), G.regular(2), 3, padding=1)
        >>> a, b, _ = rotated_features(conv, conv.out_type, torch.randn(1, 1, 9, 9), 90)
        >>> bool(torch.allclose(a, b, atol=1e-5))
        True
    """
    from ..testing._modes import eval_mode

    if not isinstance(features, torch.nn.Module):
        raise TypeError(f"`features` must be a torch.nn.Module, got {type(features).__name__}")
    if not isinstance(out_type, FieldType):
        raise TypeError(f"`out_type` must be an eqcnn FieldType (the features' type), got {describe(out_type)}")
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"`x` must be a tensor of shape (C, H, W) or (B, C, H, W), got {shape}")
    if not (isinstance(degrees, (int, float)) and not isinstance(degrees, bool) and math.isfinite(degrees)):
        raise ValueError(f"`degrees` must be a finite angle in degrees, got {degrees!r}")
    batched = x.dim() == 4
    xb = x if batched else x[None]
    rad = math.radians(degrees)
    gx = rotate_pixels(xb, rad)
    element = _element(out_type, degrees)
    with eval_mode(features):
        f_gx = features(gx)
        fx = features(xb)
        if element is not None:
            g_fx = out_type.transform(fx, element)
        elif all(rep.is_trivial for rep in out_type.representations):
            g_fx = rotate_pixels(fx, rad)
        else:
            angles = sorted({round(math.degrees(g.angle), 6) for g in out_type.group.elements})
            raise ValueError(
                f"`degrees` must be an angle of {out_type.group!r} for non-scalar fields "
                f"({', '.join(f'{a:g}' for a in angles)} modulo 360), got {degrees:g}"
            )
    if not batched:
        return f_gx[0], g_fx[0], gx[0]
    return f_gx, g_fx, gx


def _element(out_type: FieldType, degrees: float) -> Any:
    for g in out_type.group.elements:
        if not g.reflection and abs(math.degrees(g.angle) - degrees % 360) < 1e-6:
            return g
    return None


def plot_rotated_features(
    models: Mapping[str, tuple[torch.nn.Module, FieldType]],
    x: torch.Tensor,
    degrees: float = 90.0,
    channel: int = 0,
    title: str | None = None,
) -> Any:
    """One row per model: input, rotated input, ``f(g x)``, ``g . f(x)`` and their difference.

    Args:
        models: ``{name: (feature_extractor, its out_type)}``; each extractor
            maps ``x`` to a feature tensor of that type.
        x: one image ``(C, H, W)``.
        degrees: rotation angle, counter-clockwise.
        channel: which feature channel to show.
        title: figure title.

    The relative error ``|f(g x) - g f(x)| / |f(x)|`` is printed over each
    difference panel (see :func:`rotated_features`: the extractors run in eval
    mode, and their previous mode is restored).

    Returns a ``matplotlib.figure.Figure``, made without pyplot, so nothing
    is left open.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> conv = enn.Conv2d(G.trivial(1), G.regular(2), 3, padding=1)
        >>> fig = plot_rotated_features({"C4": (conv, conv.out_type)}, torch.randn(1, 9, 9))
        >>> len(fig.axes)
        5
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"`x` must be one image of shape (C, H, W), got {shape}")
    if not isinstance(models, Mapping):
        raise TypeError(f"`models` must be a mapping {{name: (features, out_type)}}, got {describe(models)}")
    if not models:
        raise ValueError("`models` must hold at least one model, got an empty mapping")
    for name, pair in models.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"`models[{name!r}]` must be a pair (features, out_type), got {describe(pair)}")
    check_int("channel", channel, minimum=0)
    fig = new_figure(figsize=(11, 2.3 * len(models) + 0.5), layout="constrained")
    axes = fig.subplots(len(models), 5, squeeze=False)
    for row, (name, (features, out_type)) in enumerate(models.items()):
        f_gx, g_fx, gx = rotated_features(features, out_type, x, degrees)
        if not 0 <= channel < f_gx.shape[0]:
            n = f_gx.shape[0]
            raise ValueError(f"`channel` must be in [0, {n}) ({name!r} has {n} feature channels), got {channel}")
        a, b = f_gx[channel].float(), g_fx[channel].float()
        err = float((f_gx - g_fx).norm() / g_fx.norm().clamp_min(1e-12))
        lim = float(torch.maximum(a.abs().max(), b.abs().max())) or 1.0
        panels = [
            (x[0], "input x", "gray", None),
            (gx[0], f"g x (turned {degrees:g}°)", "gray", None),
            (a, "f(g x)", "RdBu_r", lim),
            (b, "g · f(x)", "RdBu_r", lim),
            ((a - b).abs(), f"|difference|\nrel. error {err:.1e}", "magma", lim),
        ]
        for col, (img, label, cmap, vlim) in enumerate(panels):
            ax = axes[row][col]
            kwargs: dict[str, float] = {}
            if vlim is not None:  # features share one symmetric scale; the difference uses it too
                kwargs = {"vmin": 0.0 if cmap == "magma" else -vlim, "vmax": vlim}
            ax.imshow(img.detach().cpu().numpy(), cmap=cmap, interpolation="nearest", **kwargs)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=9)
            if col == 0:
                ax.set_ylabel(name, fontsize=10)
    fig.suptitle(title or f"Feature channel {channel} under a {degrees:g}° turn of the input")
    return fig
