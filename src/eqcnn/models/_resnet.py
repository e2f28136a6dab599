"""Equivariant ResNets with basic blocks (He et al., 2016), parameterised by the group, for images and volumes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from .._checks import check_choice, check_int, check_ints, check_positive
from ..fields import FieldType
from ..groups import PointGroup
from ..nn import (
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    BatchNorm2d,
    BatchNorm3d,
    Conv2d,
    Conv3d,
    EquivariantModule,
    GroupPool,
    MaxPool2d,
    MaxPool3d,
    ReLU,
    ResidualBlock,
    Sequential,
    export,
)
from ._widths import Match, num_fields

__all__ = ["ResNet", "ResNet3d", "basic_block", "resnet18", "resnet34"]


def _layers(dims: int) -> tuple[Any, Any, Any, Any]:
    """(conv, batch norm, max pool, adaptive average pool) for images (2) or volumes (3)."""
    if dims == 3:
        return Conv3d, BatchNorm3d, MaxPool3d, AdaptiveAvgPool3d
    return Conv2d, BatchNorm2d, MaxPool2d, AdaptiveAvgPool2d


def basic_block(in_type: FieldType, out_type: FieldType, stride: int = 1, *, dims: int | None = None) -> ResidualBlock:
    """``relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))``; the shortcut is a 1x1 conv and
    batch norm when the type or the stride changes, else the identity.  Convs before batch norm
    have no bias (the norm's bias replaces it).

    ``dims`` is 2 (images: ``Conv2d``) or 3 (volumes: ``Conv3d``, ``BatchNorm3d``);
    by default the group's (``Trivial()``: 2).

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn.models import basic_block
        >>> G = eqcnn.Cyclic(4)
        >>> block = basic_block(G.regular(2), G.regular(4), stride=2)
        >>> block(torch.randn(1, 8, 9, 9)).shape
        torch.Size([1, 16, 5, 5])
    """
    check_int("stride", stride, minimum=1)
    if dims is None:
        dims = in_type.group.spatial_dims or 2
    check_choice("dims", dims, (2, 3))
    conv, bn, _, _ = _layers(dims)
    body = Sequential(
        conv(in_type, out_type, 3, stride=stride, padding=1, bias=False),
        bn(out_type),
        ReLU(out_type, inplace=True),
        conv(out_type, out_type, 3, padding=1, bias=False),
        bn(out_type),
    )
    shortcut = None
    if stride != 1 or in_type != out_type:
        shortcut = Sequential(conv(in_type, out_type, 1, stride=stride, bias=False), bn(out_type))
    return ResidualBlock(body, shortcut, ReLU(out_type, inplace=True))


class ResNet(EquivariantModule):
    """A ResNet of basic blocks whose convolutions are equivariant to ``group``.

    ``stem`` -> stages of ``layers[i]`` basic blocks with ``widths[i]`` (the
    first block of every stage after the first has stride 2) -> group pooling
    -> global average pooling -> linear classifier.  With ``eqcnn.Trivial()``
    and the defaults it is torchvision's ResNet-18 layout with the same number
    of parameters (11,689,512).

    The features are exactly invariant to the grid symmetries in the group at
    input sizes where every stride keeps the grid symmetric (for the
    ``"imagenet"`` stem: ``H % 32 == 1``, e.g. 193, 225; for ``"cifar"``:
    ``H % 8 == 1``, e.g. 33); see :func:`eqcnn.nn.exact_input_sizes`.

    Args:
        group: ``Trivial()``, ``Cyclic(N)`` or ``Dihedral(N)``.
        layers: blocks per stage.
        widths: the ordinary network's channels per stage (ints >= 1).
        in_channels, num_classes: input channels and outputs.
        width, match: how ``widths`` become regular fields (see :func:`num_fields`).
        stem: ``"imagenet"`` (7x7 stride-2 conv and a stride-2 max pool) or
            ``"cifar"`` (one 3x3 conv).
        stem_width: the ordinary network's channels after the stem (>= 1).

    Shapes: ``(B, in_channels, H, W) -> (B, num_classes)``, or unbatched
    ``(in_channels, H, W) -> (num_classes,)`` (run as a batch of one).
    :meth:`export` takes batched input only.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn.models import ResNet
        >>> model = ResNet(eqcnn.Cyclic(4), layers=(1, 1), widths=(8, 16), stem="cifar", stem_width=8)
        >>> model(torch.randn(2, 3, 33, 33)).shape
        torch.Size([2, 1000])
    """

    _dims = 2

    def __init__(
        self,
        group: PointGroup,
        layers: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        in_channels: int = 3,
        num_classes: int = 1000,
        width: float = 1.0,
        match: Match = "fields",
        stem: Literal["imagenet", "cifar"] = "imagenet",
        stem_width: int = 64,
    ) -> None:
        super().__init__()
        if not isinstance(group, PointGroup):
            raise TypeError(f"`group` must be an eqcnn group (Trivial(), Cyclic(N), Dihedral(N)), got {group!r}")
        if group.is_continuous:
            raise ValueError(
                f"`group` (={group!r}): ResNet builds regular fields, which a continuous group has not; use "
                "Trivial(), Cyclic(N) or Dihedral(N), or SFCNN, which builds band-limited fields for SO2 / O2"
            )
        if group.spatial_dims not in (None, self._dims):
            other = "ResNet3d" if self._dims == 2 else "ResNet"
            raise ValueError(
                f"`group` (={group!r}) acts on {'volumes' if self._dims == 2 else 'the plane'}, but "
                f"{type(self).__name__} is for {'images' if self._dims == 2 else 'volumes'}; use {other}"
            )
        layers, widths = check_ints("layers", layers, minimum=1), check_ints("widths", widths, minimum=1)
        if not layers or len(layers) != len(widths):
            raise ValueError(f"`layers` and `widths` must be non-empty and of equal length, got {layers} and {widths}")
        check_int("in_channels", in_channels, minimum=1)
        check_int("num_classes", num_classes, minimum=1)
        check_int("stem_width", stem_width, minimum=1)
        check_positive("width", width)
        check_choice("match", match, ("fields", "channels", "params"))
        check_choice("stem", stem, ("imagenet", "cifar"))
        self.group = group
        self.in_type = group.trivial(in_channels)

        def fields(c: int) -> FieldType:
            return group.regular(num_fields(c, group, match, width, kernel_size=3))  # blocks are 3x3

        t = fields(stem_width)
        d = self._dims
        conv, bn, maxpool, avgpool = _layers(d)
        mods: list[nn.Module] = []
        if stem == "imagenet":
            mods += [conv(self.in_type, t, 7, stride=2, padding=3, bias=False), bn(t), ReLU(t, inplace=True)]
            mods.append(maxpool(t, 3, stride=2, padding=1))
        else:
            mods += [conv(self.in_type, t, 3, padding=1, bias=False), bn(t), ReLU(t, inplace=True)]
        self.stem = Sequential(*mods)
        stages = []
        for i, (n, c) in enumerate(zip(layers, widths)):
            out = fields(c)
            blocks = [basic_block(t, out, stride=1 if i == 0 else 2, dims=d)]
            blocks += [basic_block(out, out, dims=d) for _ in range(n - 1)]
            stages.append(Sequential(*blocks))
            t = out
        self.stages = Sequential(*stages)
        self.pool = Sequential(GroupPool(t), avgpool(group.trivial(len(t)), 1), nn.Flatten())
        self.fc = nn.Linear(len(t), num_classes)
        self.out_type = group.trivial(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.stages(self.stem(x))  # checks x: (B, C, H, W) or unbatched (C, H, W) (volumes: (B, C, D, H, W))
        if f.dim() == self._dims + 1:  # unbatched: the pool's Flatten needs a batch dimension
            return self.fc(self.pool(f[None]))[0]
        return self.fc(self.pool(f))

    def export(self) -> nn.Sequential:
        """``torch.nn.Sequential(stem, stages, pool, fc)`` of plain modules."""
        return nn.Sequential(export(self.stem), export(self.stages), export(self.pool), export(self.fc)).train(
            self.training
        )

    def extra_repr(self) -> str:
        return f"{self.group!r}"


def resnet18(group: PointGroup, **kwargs: Any) -> ResNet:
    """ResNet-18 (``layers=(2, 2, 2, 2)``) for ``group``; keyword arguments as :class:`ResNet`."""
    return ResNet(group, (2, 2, 2, 2), **kwargs)


def resnet34(group: PointGroup, **kwargs: Any) -> ResNet:
    """ResNet-34 (``layers=(3, 4, 6, 3)``) for ``group``; keyword arguments as :class:`ResNet`."""
    return ResNet(group, (3, 4, 6, 3), **kwargs)


class ResNet3d(ResNet):
    """The :class:`ResNet` of volumes: ``Conv3d`` basic blocks, equivariant to ``group``.

    ``group`` is ``Trivial()`` (the ordinary 3-D ResNet), ``Octahedral()`` or
    ``FullOctahedral()``; the arguments are :class:`ResNet`'s, with defaults for
    small volumes: the ``"cifar"`` stem (one 3x3x3 conv), three stages of one
    block, and ``match="params"`` (about the ordinary network's parameters:
    ``channels / sqrt(|G|)`` regular fields, exact for 3-D filters, whose
    regular -> regular weights are ``|G| k^3`` per field pair).  The logits are
    exactly invariant to every element of the group at sizes where the strides
    keep the grid symmetric (``n % 4 == 1`` for three stages, e.g. 17, 21, 33).
    The classifier sees one invariant number per field of the last stage (group
    pooling, then average pooling): keep enough fields there for the classes
    (``Octahedral()`` with ``widths[-1]=16`` gives 3; ``width`` scales them).

    Shapes: ``(B, in_channels, D, H, W) -> (B, num_classes)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn.models import ResNet3d
        >>> model = ResNet3d(eqcnn.Octahedral(), widths=(8, 16, 16), num_classes=4)
        >>> model(torch.randn(2, 1, 9, 9, 9)).shape
        torch.Size([2, 4])
    """

    _dims = 3

    def __init__(
        self,
        group: PointGroup,
        layers: Sequence[int] = (1, 1, 1),
        widths: Sequence[int] = (16, 32, 64),
        in_channels: int = 1,
        num_classes: int = 10,
        width: float = 1.0,
        match: Match = "params",
        stem: Literal["imagenet", "cifar"] = "cifar",
        stem_width: int = 16,
    ) -> None:
        super().__init__(group, layers, widths, in_channels, num_classes, width, match, stem, stem_width)
