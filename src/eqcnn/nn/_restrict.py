"""Restrict: from a group to one of its subgroups in the middle of a network (e2cnn's "D16|5 C16")."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ..fields import FieldType
from ..groups import PointGroup
from ._fieldutil import check_field_type
from ._module import EquivariantModule
from ._plain import ChannelMapPlain, channel_map

__all__ = ["Restrict"]


class Restrict(EquivariantModule):
    """See a feature tensor of ``in_type`` as one of a subgroup: the layers after it are ``subgroup``-equivariant.

    Equivariance to a group implies equivariance to each of its subgroups, so
    nothing is computed: the channels are relabelled.  Each field is split into
    the subgroup's own fields (``Dihedral(N).regular`` into two
    ``Cyclic(N).regular``, ``Cyclic(N).regular`` into ``N / M``
    ``Cyclic(M).regular``, irreps into the subgroup's irreps, quotients into
    quotients), which may reorder its channels (and flip the sign of the second
    channel of a 2-D irrep).  Where no channel moves the output is the input
    itself (a view, no copy), as for ``Dihedral(N) -> Cyclic(N)``, the usual
    case.  A field no signed permutation splits keeps its restricted
    representation (see :meth:`eqcnn.FieldType.restrict`).

    Subgroups (:meth:`eqcnn.PointGroup.is_subgroup`): ``Cyclic(M)`` of
    ``Cyclic(N)`` and ``Dihedral(N)``, ``Dihedral(M)`` of ``Dihedral(N)``, for
    ``M`` dividing ``N``; every ``Cyclic(M)`` of ``SO2`` and ``O2``, every
    ``Dihedral(M)`` of ``O2``, ``SO2`` of ``O2`` (the same band limit); and
    ``Trivial()`` of any group.

    Args:
        in_type: the field type of the input.
        subgroup: the group the output's type is over.

    Shapes: ``(B, in_type.size, H, W) -> (B, in_type.size, H, W)`` (or unbatched).

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> r = enn.Restrict(eqcnn.Dihedral(8).regular(3), eqcnn.Cyclic(8))
        >>> r.out_type
        Cyclic(8).regular(6)
        >>> x = torch.randn(2, 48, 5, 5)
        >>> r(x) is x
        True
    """

    if TYPE_CHECKING:  # buffers
        perm: torch.Tensor
        signs: torch.Tensor

    def __init__(self, in_type: FieldType, subgroup: PointGroup) -> None:
        super().__init__()
        self.in_type = check_field_type("in_type", in_type)
        self.subgroup = subgroup
        out, perm, signs = in_type._restriction(subgroup, reorder=True)  # checks `subgroup`
        self.out_type = out
        self.is_view = bool((perm == range(len(perm))).all() and (signs == 1).all())
        self.register_buffer("perm", torch.as_tensor(perm, dtype=torch.long), persistent=False)
        self._has_signs = bool((signs != 1).any())
        self.register_buffer("signs", torch.as_tensor(signs, dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = self.check_input(x)
        if self.is_view:
            return x
        return channel_map(x, self.perm, self.signs if self._has_signs else None, dims)

    def export(self) -> nn.Module:
        if self.is_view:
            return nn.Identity()
        return ChannelMapPlain(self.perm, self.signs if self._has_signs else None, self.in_type.spatial_dims or 2)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, {self.subgroup!r}"
