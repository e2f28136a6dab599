"""The filters of a lifting convolution and their rotated (and reflected) copies."""

from __future__ import annotations

from typing import Any

import torch

from .._checks import check_int
from ._mpl import new_figure

__all__ = ["plot_lifting_filters"]


def plot_lifting_filters(conv: Any, fields: int = 6, in_channel: int = 0, title: str | None = None) -> Any:
    """Show the expanded filters of a lifting convolution, one row per output field.

    A lifting layer maps scalar input channels (``G.trivial(c)``) to regular
    fields. The ``|G|`` channels of one regular field are one learned filter
    seen from every element of the group: column ``k`` is the filter turned by
    ``G.elements[k]`` (exactly, for turns by multiples of 90 degrees; for other
    angles the harmonic basis makes the copy a rotation of the same continuous
    filter, sampled on the grid). For ``Trivial()`` there is one column: the
    filters of an ordinary CNN.

    Args:
        conv: a lifting :class:`eqcnn.nn.Conv2d`: its ``in_type`` is scalar
            (trivial) fields and its ``out_type`` is regular fields (or
            trivial ones, drawn as one column). Other layers are refused: the
            channels of a regular-to-regular filter are not rotated copies of
            one filter.
        fields: how many output fields (rows) to show, at least 1 (at most
            the layer's number of fields are shown).
        in_channel: which input channel's filter to show.
        title: figure title (default: the layer's group).

    Returns a ``matplotlib.figure.Figure``, made without pyplot, so nothing
    is left open.

    Example:
        >>> import eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> fig = plot_lifting_filters(enn.Conv2d(G.trivial(1), G.regular(2), 5), fields=2)
        >>> len(fig.axes)
        8
    """
    from ..nn import Conv2d

    if not isinstance(conv, Conv2d):
        raise TypeError(f"`conv` must be an eqcnn.nn.Conv2d (a lifting convolution), got {_qualname(conv)}")
    in_type, out_type = conv.in_type, conv.out_type
    if not all(rep.is_trivial for rep in in_type.representations):
        raise ValueError(
            "`conv` must be a lifting convolution, whose `in_type` is scalar (trivial) fields; got in_type "
            f"{in_type!r} (the channels of a filter between non-scalar fields are not rotated copies of one filter)"
        )
    group = out_type.group
    trivial = [rep.is_trivial for rep in out_type.representations]
    if group.is_continuous:  # band-limited fields: the filter sampled at the group's sampled elements
        regular = [rep == group.bl_regular_representation for rep in out_type.representations]  # type: ignore[attr-defined]
        kinds = "bl_regular"
    else:
        regular = [rep == group.regular_representation for rep in out_type.representations]
        kinds = "regular"
    if not (all(regular) or all(trivial)):
        raise ValueError(f"`conv.out_type` must be all {kinds} or all trivial fields, got {out_type!r}")
    size = 1 if all(trivial) else group.order
    check_int("fields", fields, minimum=1)
    check_int("in_channel", in_channel, minimum=0)
    with torch.no_grad():
        filt, _ = conv.expand_parameters()
    if in_channel >= filt.shape[1]:  # in_type.size, or in_type.size / groups for a grouped conv
        raise ValueError(f"`in_channel` must be in [0, {filt.shape[1]}), got {in_channel}")
    filt = filt.detach().float().cpu()[:, in_channel]
    if group.is_continuous and not all(trivial):
        from ..nn._fourier import fourier_sampling

        # a bl_regular field's channels are Fourier coefficients: the filter at element g is their synthesis
        A, _ = fourier_sampling(out_type.representations[0], list(group.elements))
        d = out_type.representations[0].size
        filt = torch.einsum("nd,fdhw->fnhw", torch.as_tensor(A, dtype=filt.dtype), filt.unflatten(0, (-1, d)))
        filt = filt.flatten(0, 1)
    rows = min(fields, len(out_type))
    fig = new_figure(figsize=(1.1 * size + 0.6, 1.1 * rows + 0.6), layout="constrained")
    labels = [_element_label(g) for g in group.elements] if size == group.order else [""] * size
    axes = fig.subplots(rows, size, squeeze=False)
    for r in range(rows):
        block = filt[r * size : (r + 1) * size]
        lim = float(block.abs().max()) or 1.0
        for c in range(size):
            ax = axes[r][c]
            ax.imshow(block[c].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and labels[c]:
                ax.set_title(labels[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(f"field {r}", fontsize=8)
    fig.suptitle(title or f"Lifting filters of {group!r}: each row is one filter and its transformed copies")
    return fig


def _element_label(g: Any) -> str:
    deg = round(g.angle * 180 / 3.141592653589793, 1)
    text = f"{deg:g}°"
    return f"flip, {text}" if g.reflection else text


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__.startswith("eqcnn") else f"{cls.__module__}.{cls.__qualname__}"
