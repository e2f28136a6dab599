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
    g = t_in.group
    t_out = g.regular(fields)
    # off the grid's angles (45 degrees in C8) smooth filters and an ELU that does not alias move less; an
    # ordinary CNN keeps the full basis and the plain ELU (docs/howto/off-grid-angles.md)
    rotations = g.N > 1  # (Dihedral(1), a mirror alone, keeps the plain layers)
    act: nn.Module = enn.AntiAliased(enn.ELU(t_out), factor=2, sigma=1.0) if rotations else enn.ELU(t_out)
    conv = enn.Conv2d(t_in, t_out, k, padding=k // 2, bias=False, basis="lowpass" if rotations else "auto")
    return [conv, enn.BatchNorm2d(t_out), act]


def _pool(t) -> list[nn.Module]:
    """Anti-aliased max pooling (Zhang, 2019): 3x3 max with stride 1, then blur and subsample by 2."""
    return [enn.MaxPool2d(t, 3, stride=1, padding=1), enn.BlurPool2d(t, stride=2)]


def build_digit_model(group: PointGroup, width: int, classes: int = 10, head: int = 64) -> enn.Sequential:
    """A small classifier of 29x29 digits whose features are invariant to the group.

    Layers (``F = width`` regular fields): 5x5 conv 1 -> F, pool (29 -> 15),
    5x5 conv F -> F, 5x5 conv F -> 2F, pool (15 -> 8), 5x5 conv 2F -> 4F, each conv
    followed by batch norm and ELU (no conv bias: batch norm follows); then a
    max over the group (invariant fields), a Gaussian-weighted global average
    (:class:`eqcnn.nn.GaussianAvgPool2d`, a round footprint) and an MLP head
    (4F -> ``head`` -> ``classes``). Each pool is a 3x3 max with stride 1 followed
    by a blurred stride-2 subsampling (anti-aliased). For a group with rotations
    the convs use the ``"lowpass"`` basis and each ELU is
    ``AntiAliased(ELU, factor=2, sigma=1.0)``: with the 5x5 last conv and
    the Gaussian average, the changes that keep accuracy up at angles off the
    pixel grid, such as 45 degrees (docs/howto/off-grid-angles.md; worst
    angle over 15-degree turns 78.1% -> 91.3%, means of 3 seeds).

    Each pooling keeps the sampled grid symmetric about the image centre for a
    29x29 input (``(29 - 1) % 2 == 0``, ``(15 - 1) % 2 == 0``), so the logits are
    exactly invariant to the 90-degree turns (and flips) in the group and
    approximately to its other rotations. With ``Trivial()`` it is an ordinary
    CNN (full basis, plain ELU).

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
    layers += _block(g.regular(2 * width), 4 * width, 5)
    layers += [enn.GroupPool(g.regular(4 * width)), enn.GaussianAvgPool2d(g.trivial(4 * width)), nn.Flatten()]
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
