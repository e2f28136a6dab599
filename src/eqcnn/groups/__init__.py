"""Point groups of the plane and of space, and their representations (layer 1 of eqcnn)."""

from ._continuous import O2, SO2, ContinuousGroup
from ._group import Cyclic, Dihedral, GroupElement, PointGroup, Trivial
from ._octahedral import FullOctahedral, Octahedral, OctahedralElement, SpatialGroup
from ._representation import Representation, direct_sum
from ._subgroup import Decomposition, decompose, quotient_representation, restrict_representation

__all__ = [
    "O2",
    "SO2",
    "ContinuousGroup",
    "Cyclic",
    "Decomposition",
    "Dihedral",
    "FullOctahedral",
    "GroupElement",
    "Octahedral",
    "OctahedralElement",
    "PointGroup",
    "Representation",
    "SpatialGroup",
    "Trivial",
    "decompose",
    "direct_sum",
    "quotient_representation",
    "restrict_representation",
]
