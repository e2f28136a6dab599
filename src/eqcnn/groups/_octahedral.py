"""The octahedral groups of space: the rotations (and inversions) that map the cubic voxel grid onto itself.

``Octahedral()`` (O, 24 elements) holds the rotations of a cube;
``FullOctahedral()`` (O_h, 48) adds the inversion ``p -> -p`` and with it every
mirror of the cube.  Each element is a signed permutation of the three axes,
a 3x3 integer matrix acting on the centred voxel coordinates
``p = (d - (D-1)/2, h - (H-1)/2, w - (W-1)/2)`` of a ``(D, H, W)`` volume, in
the tensor's axis order.  So every element moves voxels onto voxels: a
permutation of the spatial axes and flips, exact in floating point, the way
quarter turns and mirrors are exact on pixels.

Elements are listed rotations first (the identity, then the other 23 in
descending lexicographic order of their matrices' entries, row by row), then, for O_h, each rotation times the
inversion in the same order: ``element.index = rotation + 24 * reflection``.
That is the channel order of a regular field.

Irreducible representations, by name (``G.irrep("T1")``):

- ``Octahedral``: ``A1`` (trivial), ``A2`` (the sign of the axis permutation),
  ``E`` (2-D: the axis permutation on the plane ``x + y + z = 0``), ``T1``
  (3-D: the rotation matrix itself), ``T2`` (``A2 x T1``);
- ``FullOctahedral``: each of those with a parity, ``g`` (the inversion acts as
  +1) or ``u`` (as -1): ``A1g`` ... ``T2u``; ``T1u`` is the matrix itself (a
  polar vector), ``T1g`` an axial vector.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .._checks import check_int
from ._group import GroupElement, PointGroup
from ._representation import Representation

__all__ = ["FullOctahedral", "Octahedral", "OctahedralElement", "SpatialGroup"]


def _rotation_matrices() -> np.ndarray:
    """The 24 signed permutation matrices of determinant +1: the identity, then descending lexicographic order
    of their entries (row by row).  Fixed: it is the channel order of regular fields, so saved weights
    depend on it."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3), dtype=np.int64)
            for a in range(3):
                m[perm[a], a] = signs[a]
            if round(np.linalg.det(m)) == 1:
                mats.append(m)
    ident = np.eye(3, dtype=np.int64)
    rest = sorted((m for m in mats if not np.array_equal(m, ident)), key=lambda m: tuple(-m.reshape(-1)))
    out = np.stack([ident, *rest])
    out.setflags(write=False)
    return out


_ROTATIONS = _rotation_matrices()


class SpatialGroup(PointGroup):
    """A finite group acting on 3-D space; base of :class:`Octahedral` and :class:`FullOctahedral`.

    It keeps the interface of the planar groups (``elements``, ``order``,
    representations, field types) with elements that are 3x3 matrices; its
    field types describe ``(B, C, D, H, W)`` volumes.
    """

    spatial_dims = 3

    def _ctor_args(self) -> tuple:
        return ()

    def _key(self) -> tuple:
        return (self.N, self.has_reflections, "octahedral")

    def __hash__(self) -> int:
        return hash(("SpatialGroup", *self._key()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @cached_property
    def _matrices(self) -> np.ndarray:
        """``(order, 3, 3)`` int matrices, in ``elements`` order."""
        mats = [_ROTATIONS] + ([-_ROTATIONS] if self.has_reflections else [])
        out = np.concatenate(mats)
        out.setflags(write=False)
        return out

    @cached_property
    def _table(self) -> np.ndarray:
        """``table[a, b]`` = index of ``a b``; found by matrix product (exact integers)."""
        lookup = {m.tobytes(): i for i, m in enumerate(self._matrices)}
        n = self.order
        table = np.zeros((n, n), dtype=np.int64)
        for a in range(n):
            for b in range(n):
                table[a, b] = lookup[(self._matrices[a] @ self._matrices[b]).tobytes()]
        table.setflags(write=False)
        return table

    @cached_property
    def elements(self) -> tuple[GroupElement, ...]:
        flips = (False, True) if self.has_reflections else (False,)
        return tuple(OctahedralElement(self, k, f) for f in flips for k in range(self.N))

    @property
    def generators(self) -> tuple[GroupElement, ...]:
        """Quarter turns about the depth and the height axes (they generate the rotations), and the inversion."""
        gens = [self.element_from_matrix([[1, 0, 0], [0, 0, -1], [0, 1, 0]]),
                self.element_from_matrix([[0, 0, 1], [0, 1, 0], [-1, 0, 0]])]  # fmt: skip
        if self.has_reflections:
            gens.append(self.inversion)
        return tuple(gens)

    @property
    def inversion(self) -> GroupElement:
        """``p -> -p`` (only in :class:`FullOctahedral`)."""
        if not self.has_reflections:
            raise ValueError(f"{self!r} has no inversion; FullOctahedral() has")
        return self.elements[self.N]

    def element_from_matrix(self, matrix: object) -> GroupElement:
        """The element whose 3x3 matrix (on ``(depth, height, width)`` coordinates) is ``matrix``."""
        try:
            m = np.asarray(matrix, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"`matrix` must be a 3x3 array of numbers, got {type(matrix).__name__}") from None
        if m.shape != (3, 3):
            raise ValueError(f"`matrix` must have shape (3, 3), got {m.shape}")
        for i, ref in enumerate(self._matrices):
            if np.array_equal(m, ref):
                return self.elements[i]
        raise ValueError(
            f"`matrix` must be a signed permutation matrix of {self!r} (determinant "
            f"{'+-1' if self.has_reflections else '+1'}), got {m.astype(int).tolist() if np.all(m == m.round()) else m}"
        )

    def element(self, rotation: int = 0, reflection: bool = False) -> GroupElement:
        """Rotation number ``rotation`` (modulo 24, in ``elements`` order), times the inversion if ``reflection``."""
        check_int("rotation", rotation)
        if reflection and not self.has_reflections:
            raise ValueError(f"`reflection` (=True) needs a group with the inversion; {self!r} has none")
        return self.elements[int(rotation) % self.N + self.N * bool(reflection)]

    def rotation_by(self, degrees: float) -> GroupElement:
        raise ValueError(
            f"a rotation of {self!r} has an axis as well as an angle: use element_from_matrix(...), "
            "element(k) or the elements themselves"
        )

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        """``a b``: first ``b``, then ``a`` (the product of their matrices)."""
        self._check_member(a, "a")
        self._check_member(b, "b")
        return self.elements[int(self._table[a.index, b.index])]

    def inverse(self, a: GroupElement) -> GroupElement:
        self._check_member(a, "a")
        return self.elements[int(np.flatnonzero(self._table[a.index] == 0)[0])]

    @property
    def is_grid_symmetric(self) -> bool:
        return True

    # -- representations ------------------------------------------------------------
    def irrep_names(self) -> tuple[str, ...]:
        base = ("A1", "A2", "E", "T1", "T2")
        if not self.has_reflections:
            return base
        return tuple(n + p for p in ("g", "u") for n in base)

    def irrep(self, *index: object) -> Representation:  # type: ignore[override]
        """The irrep named ``index[0]`` (see :meth:`irrep_names`), e.g. ``G.irrep("T1")``."""
        names = self.irrep_names()
        if len(index) != 1 or index[0] not in names:
            got = index[0] if len(index) == 1 else index
            raise ValueError(f"irreps of {self!r} are irrep(name) with name in {list(names)}; got {got!r}")
        return _irrep(self, str(index[0]))

    def irreps(self) -> list[Representation]:  # type: ignore[override]
        return [self.irrep(n) for n in self.irrep_names()]

    def irreps_field(self, *index: object, multiplicity: int = 1):  # type: ignore[override]
        from ..fields import FieldType

        return FieldType.repeat(self, self.irrep(*index), multiplicity)


@dataclass(frozen=True, repr=False)
class OctahedralElement(GroupElement):
    """An element of an octahedral group: rotation number ``rotation`` in ``elements`` order, and the inversion.

    ``matrix()`` is its 3x3 signed permutation matrix; ``angle`` does not exist
    (a rotation of space has an axis too).
    """

    @property
    def angle(self) -> float:  # type: ignore[override]
        raise ValueError(f"{self!r} is a rotation of space, with an axis: use .matrix(), not .angle")

    @property
    def quarter_turns(self) -> int | None:
        return None

    @property
    def is_grid_symmetry(self) -> bool:
        return True

    def matrix(self) -> np.ndarray:
        """The 3x3 matrix on centred ``(depth, height, width)`` coordinates (floats with integer values)."""
        return self.group._matrices[self.index].astype(float)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"{self.group!r}[{self.group._matrices[self.index].tolist()}]"  # type: ignore[attr-defined]


class Octahedral(SpatialGroup):
    """O: the 24 rotations of the cube, each a symmetry of the voxel grid."""

    def __init__(self) -> None:
        super().__init__(24, reflections=False)


class FullOctahedral(SpatialGroup):
    """O_h: the 24 rotations of the cube and their compositions with the inversion (48 elements)."""

    def __init__(self) -> None:
        super().__init__(24, reflections=True)


# -- the irreps -------------------------------------------------------------------------------
_E_BASIS = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]) / np.array([[np.sqrt(2.0)], [np.sqrt(6.0)]])


def _rotation_part(group: SpatialGroup, g: GroupElement) -> np.ndarray:
    return _ROTATIONS[g.index % group.N].astype(float)


def _axis_permutation(r: np.ndarray) -> np.ndarray:
    """The 0/1 matrix of the axis permutation under a signed permutation matrix (signs dropped)."""
    return np.abs(r)


def _irrep(group: SpatialGroup, name: str) -> Representation:
    from ._representation import trivial_representation

    base, parity = (name[:-1], name[-1]) if group.has_reflections else (name, "g")
    if base == "A1" and parity == "g":
        return trivial_representation(group)
    mats = []
    for g in group.elements:
        r = _rotation_part(group, g)
        sign = -1.0 if (parity == "u" and g.reflection) else 1.0
        a2 = float(round(np.linalg.det(_axis_permutation(r))))  # the sign of the axis permutation
        if base == "A1":
            m = np.ones((1, 1))
        elif base == "A2":
            m = np.array([[a2]])
        elif base == "E":
            m = _E_BASIS @ _axis_permutation(r) @ _E_BASIS.T
        elif base == "T1":
            m = r
        else:  # T2
            m = a2 * r
        # the exact values (0, +-1/2, +-1, +-sqrt(3)/2) where the products of E's basis round off them
        exact = np.array([0.0, 0.5, 1.0, np.sqrt(3.0) / 2])
        near = exact[np.abs(np.abs(m)[..., None] - exact).argmin(-1)]
        m = np.where(np.abs(np.abs(m) - near) < 1e-12, np.sign(m) * near, m)
        mats.append(sign * m)
    return Representation(group, f"irrep({name!r})", np.array(mats))
