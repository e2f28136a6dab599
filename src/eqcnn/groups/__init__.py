"""Point groups of the plane and their representations (layer 1 of eqcnn)."""

from ._continuous import O2, SO2, ContinuousGroup
from ._group import Cyclic, Dihedral, GroupElement, PointGroup, Trivial
from ._representation import Representation, direct_sum
from ._subgroup import Decomposition, decompose, quotient_representation, restrict_representation

__all__ = [
    "O2",
    "SO2",
    "ContinuousGroup",
    "Cyclic",
    "Decomposition",
    "Dihedral",
    "GroupElement",
    "PointGroup",
    "Representation",
    "Trivial",
    "decompose",
    "direct_sum",
    "quotient_representation",
    "restrict_representation",
]
