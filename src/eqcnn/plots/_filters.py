"""The filters of a lifting convolution and their rotated (and reflected) copies."""

from __future__ import annotations

from typing import Any

import torch

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
        conv: an :class:`eqcnn.nn.Conv2d` whose ``out_type`` is made of regular
            (or trivial) fields.
        fields: how many output fields (rows) to show.
        in_channel: which input channel's filter to show.
        title: figure title (default: the layer's group).

    Returns a ``matplotlib.figure.Figure``.

    Example:
        >>> import eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> fig = plot_lifting_filters(enn.Conv2d(G.trivial(1), G.regular(2), 5), fields=2)
        >>> len(fig.axes)
        8
    """
    from matplotlib.figure import Figure

    out_type = getattr(conv, "out_type", None)
    if out_type is None or not hasattr(conv, "expand_parameters"):
        raise TypeError(f"`conv` must be an eqcnn.nn.Conv2d, got {type(conv).__name__}")
    sizes = {rep.size for rep in out_type.representations}
    if len(sizes) != 1:
        raise ValueError(f"`conv.out_type` must hold fields of one size (regular or trivial), got {out_type!r}")
    size = sizes.pop()
    if not 0 <= in_channel < conv.in_type.size:
        raise ValueError(f"`in_channel` must be in [0, {conv.in_type.size}), got {in_channel}")
    with torch.no_grad():
        filt, _ = conv.expand_parameters()
    filt = filt.detach().float().cpu()[:, in_channel]
    rows = max(1, min(int(fields), len(out_type)))
    group = out_type.group
    labels = [_element_label(g) for g in group.elements] if size == group.order else [""] * size
    fig = Figure(figsize=(1.1 * size + 0.6, 1.1 * rows + 0.6), layout="constrained")
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
