"""The demo's digit classifier: one architecture, built for any group.

A small SFCNN-like network sized so that the whole demo trains in a few
minutes on two CPU cores (the full SFCNN of :class:`eqcnn.models.SFCNN` is
about 20 times slower per digit and needs more digits to pay off).
"""

from __future__ import annotations

from torch import nn

from eqcnn import nn as enn
from eqcnn.groups import PointGroup

__all__ = ["build_digit_model", "count_parameters", "matched_width"]


def _block(t_in, fields: int, k: int) -> list[nn.Module]:
    t_out = t_in.group.regular(fields)
    return [enn.Conv2d(t_in, t_out, k, padding=k // 2, bias=False), enn.BatchNorm2d(t_out), enn.ELU(t_out)]


def _pool(t) -> list[nn.Module]:
    """Anti-aliased max pooling (Zhang, 2019): 3x3 max with stride 1, then blur and subsample by 2."""
    return [enn.MaxPool2d(t, 3, stride=1, padding=1), enn.BlurPool2d(t, stride=2)]


def build_digit_model(group: PointGroup, width: int, classes: int = 10, head: int = 64) -> enn.Sequential:
    """A small classifier of 29x29 digits whose features are invariant to the group.

    Layers (``F = width`` regular fields): 5x5 conv 1 -> F, pool (29 -> 15),
    5x5 conv F -> F, 5x5 conv F -> 2F, pool (15 -> 8), 3x3 conv 2F -> 4F, each conv
    followed by batch norm and ELU (no conv bias: batch norm follows); then a
    max over the group (invariant fields), a global average and an MLP head
    (4F -> ``head`` -> ``classes``). Each pool is a 3x3 max with stride 1 followed
    by a blurred stride-2 subsampling (anti-aliased, so turns by angles off the
    pixel grid, such as 45 degrees, change the features less).

    Each pooling keeps the sampled grid symmetric about the image centre for a
    29x29 input (``(29 - 1) % 2 == 0``, ``(15 - 1) % 2 == 0``), so the logits are
    exactly invariant to the 90-degree turns (and flips) in the group and
    approximately to its other rotations. With ``Trivial()`` it is an ordinary
    CNN.

    Shapes: ``(B, 1, 29, 29) -> (B, classes)``.

    Example:
        >>> import torch, eqcnn
        >>> model = build_digit_model(eqcnn.Cyclic(8), 2)
        >>> x = torch.randn(3, 1, 29, 29)
        >>> y = model.eval()(x)
        >>> bool(torch.allclose(y, model(torch.rot90(x, 1, (2, 3))), atol=1e-5))
        True
    """
    g = group
    layers: list[nn.Module] = []
    layers += _block(g.trivial(1), width, 5)
    layers += _pool(g.regular(width))
    layers += _block(g.regular(width), width, 5)
    layers += _block(g.regular(width), 2 * width, 5)
    layers += _pool(g.regular(2 * width))
    layers += _block(g.regular(2 * width), 4 * width, 3)
    layers += [enn.GroupPool(g.regular(4 * width)), enn.AdaptiveAvgPool2d(g.trivial(4 * width), 1), nn.Flatten()]
    layers += [nn.Linear(4 * width, head, bias=False), nn.BatchNorm1d(head), nn.ELU(), nn.Linear(head, classes)]
    return enn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def matched_width(group: PointGroup, reference: int) -> int:
    """The width whose model's parameter count is closest to ``reference``."""
    best, best_gap = 1, None
    for w in range(1, 257):
        n = count_parameters(build_digit_model(group, w))
        gap = abs(n - reference)
        if best_gap is None or gap < best_gap:
            best, best_gap = w, gap
        if n > reference:
            break
    return best
