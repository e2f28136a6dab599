"""Point groups of the plane and their representations (layer 1 of eqcnn)."""

from ._group import Cyclic, Dihedral, GroupElement, PointGroup, Trivial
from ._representation import Representation
from ._subgroup import Decomposition, decompose, quotient_representation, restrict_representation

__all__ = [
    "Cyclic",
    "Decomposition",
    "Dihedral",
    "GroupElement",
    "PointGroup",
    "Representation",
    "Trivial",
    "decompose",
    "quotient_representation",
    "restrict_representation",
]
