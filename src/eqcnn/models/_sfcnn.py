"""A compact equivariant CNN for small images, in the layout of SFCNN (Weiler et al., 2018)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn

from .._checks import check_choice, check_int, check_ints, check_positive, check_probability
from ..groups import PointGroup
from ..nn import (
    ELU,
    AdaptiveAvgPool2d,
    BatchNorm2d,
    BlurPool2d,
    Conv2d,
    EquivariantModule,
    FourierELU,
    GroupPool,
    MaxPool2d,
    NormPool,
    Restrict,
    Sequential,
    export,
)
from ._widths import Match, num_fields

__all__ = ["SFCNN"]

SFCNN_WIDTHS = (24, 32, 36, 36, 64, 96)
SFCNN_KERNELS = (9, 7, 7, 7, 7, 5)


class SFCNN(EquivariantModule):
    """A compact equivariant CNN for small images (the SFCNN layout used on rotated MNIST by e2cnn).

    Six convolutions with ``widths`` (default 24, 32, 36, 36, 64, 96) regular
    fields and kernels 9, 7, 7, 7, 7, 5, each followed by batch norm and ELU;
    a stride-2 pooling after the second and the fourth; then group pooling
    (invariant fields), global average pooling and an MLP head.  With
    ``eqcnn.Trivial()`` it is the ordinary CNN of the same layout.

    The features are exactly invariant to the grid symmetries in the group at
    input sizes where both poolings keep the grid symmetric (``H % 4 == 1``:
    29, 33, ...; check any size with :func:`eqcnn.nn.exact_input_sizes`), and
    approximately invariant to other rotations.

    Args:
        group: ``Trivial()``, ``Cyclic(N)``, ``Dihedral(N)``, or ``SO2(L)`` / ``O2(L)``: then the
            fields are band-limited (``G.bl_regular``), the nonlinearities Fourier ELUs on
            ``4 (L + 1)`` samples and the invariant pooling the fields' norms (``NormPool``);
            the poolings are ``pool="blur"`` only.
        in_channels: channels of the input image (scalar fields).
        num_classes: outputs of the head.
        width: multiplier on the widths (a positive number).
        match: ``"fields"`` (``widths`` regular fields), ``"channels"`` (the
            ordinary network's channel count) or ``"params"`` (about its
            parameter count); see :func:`num_fields`.
        pool: ``"blur"`` (anti-aliased, default), ``"max"``.
        widths, kernel_sizes: the six convolutions' widths (the ordinary
            network's channels, ints >= 1) and kernel sizes.
        head_width: hidden units of the MLP head.
        dropout: dropout probability in the head, in [0, 1].
        restrict: a restriction schedule ``{block: subgroup}``: after
            convolution block ``block`` (1 to 5) the features are restricted
            (:class:`eqcnn.nn.Restrict`) to ``subgroup`` and the later blocks
            are over it.  e2cnn's best rotated-MNIST model, "D16|5 C16", is
            ``SFCNN(Dihedral(16), restrict={5: Cyclic(16)})``: reflection
            equivariance where the features are local, rotations only after.
            ``match`` sizes each block for its own group.

    Shapes: ``(B, in_channels, H, W) -> (B, num_classes)``, or unbatched
    ``(in_channels, H, W) -> (num_classes,)`` (run as a batch of one, so in
    training mode the head's batch norm refuses it, as torch's does a batch of
    one). :meth:`export` takes batched input only.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn.models import SFCNN
        >>> model = SFCNN(eqcnn.Cyclic(4), width=0.25)
        >>> model(torch.randn(2, 1, 29, 29)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        group: PointGroup,
        in_channels: int = 1,
        num_classes: int = 10,
        width: float = 1.0,
        match: Match = "fields",
        pool: Literal["blur", "max"] = "blur",
        widths: Sequence[int] = SFCNN_WIDTHS,
        kernel_sizes: Sequence[int] = SFCNN_KERNELS,
        head_width: int = 64,
        dropout: float = 0.3,
        restrict: Mapping[int, PointGroup] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(group, PointGroup):
            raise TypeError(f"`group` must be an eqcnn group (Trivial(), Cyclic(N), Dihedral(N)), got {group!r}")
        check_int("in_channels", in_channels, minimum=1)
        check_int("num_classes", num_classes, minimum=1)
        check_int("head_width", head_width, minimum=1)
        check_choice("pool", pool, ("blur", "max"))
        if group.is_continuous and pool != "blur":
            raise ValueError(
                f"`pool` must be 'blur' for {group!r}: max pooling takes permutation fields, and band-limited "
                f"fields are not; got {pool!r}"
            )
        check_positive("width", width)
        check_choice("match", match, ("fields", "channels", "params"))
        widths, kernel_sizes = (
            check_ints("widths", widths, minimum=1),
            check_ints("kernel_sizes", kernel_sizes, minimum=1),
        )
        if len(widths) != 6 or len(kernel_sizes) != 6:
            raise ValueError(f"`widths` and `kernel_sizes` must have 6 entries, got {widths} and {kernel_sizes}")
        check_probability("dropout", dropout)
        schedule = _check_schedule(restrict, group)
        self.group = group
        self.restrict = dict(schedule)
        self.in_type = group.trivial(in_channels)
        layers: list[nn.Module] = []
        t = self.in_type
        g = group
        for i, (c, k) in enumerate(zip(widths, kernel_sizes)):
            n = num_fields(c, g, match, width, kernel_size=k)
            out = g.bl_regular(n) if g.is_continuous else g.regular(n)  # type: ignore[attr-defined]
            act = FourierELU(out) if g.is_continuous else ELU(out, inplace=True)
            layers += [Conv2d(t, out, k, padding=k // 2, bias=False), BatchNorm2d(out), act]
            t = out
            if i in (1, 3):
                layers.append(BlurPool2d(t, stride=2) if pool == "blur" else MaxPool2d(t, 3, stride=2, padding=1))
            if i + 1 in schedule:
                g = schedule[i + 1]
                restriction = Restrict(t, g)
                layers.append(restriction)
                t = restriction.out_type
        layers += [NormPool(t) if g.is_continuous else GroupPool(t), AdaptiveAvgPool2d(g.trivial(len(t)), 1)]
        self.features = Sequential(*layers)
        n = len(t)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n, head_width, bias=False),
            nn.BatchNorm1d(head_width),
            nn.ELU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(head_width, num_classes),
        )
        self.out_type = g.trivial(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)  # checks x: (B, C, H, W) or unbatched (C, H, W)
        if f.dim() == 3:  # unbatched: the head's Flatten and BatchNorm1d need a batch dimension
            return self.head(f[None])[0]
        return self.head(f)

    def export(self) -> nn.Sequential:
        """``torch.nn.Sequential(features, head)`` of plain modules (see :func:`eqcnn.nn.export`)."""
        return nn.Sequential(export(self.features), export(self.head)).train(self.training)

    def extra_repr(self) -> str:
        return f"{self.group!r}" + (f", restrict={self.restrict!r}" if self.restrict else "")


def _check_schedule(restrict: object, group: PointGroup) -> dict[int, PointGroup]:
    """The restriction schedule ``{block: subgroup}``: blocks 1 to 5 in order, each group a subgroup of the last."""
    from ..groups._subgroup import check_subgroup

    if restrict is None:
        return {}
    if not isinstance(restrict, Mapping):
        raise TypeError(
            f"`restrict` must be a mapping {{block: subgroup}} (e.g. {{5: Cyclic(16)}}), got {type(restrict).__name__}"
        )
    out: dict[int, PointGroup] = {}
    current = group
    for block in sorted(restrict, key=lambda b: b if isinstance(b, int) else -1):
        check_int("restrict's block", block, minimum=1)
        if block > 5:
            raise ValueError(f"a block of `restrict` must be 1 to 5 (after the last block use GroupPool), got {block}")
        sub = check_subgroup(f"restrict[{block}]", restrict[block], current)
        out[int(block)] = current = sub
    return out
