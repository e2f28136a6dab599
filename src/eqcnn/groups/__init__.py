"""Point groups of the plane and their representations (layer 1 of eqcnn)."""

from ._group import Cyclic, Dihedral, GroupElement, PointGroup, Trivial
from ._representation import Representation

__all__ = ["Cyclic", "Dihedral", "GroupElement", "PointGroup", "Representation", "Trivial"]
