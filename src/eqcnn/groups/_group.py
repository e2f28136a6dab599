"""Point groups of the plane: Trivial, Cyclic(N) and Dihedral(N).

An element is ``r^k f^a``: first the reflection ``f`` (when ``a = 1``), then the
rotation ``r^k`` by ``2 pi k / N`` counter-clockwise.  The reflection is the
mirror ``x -> -x`` about the vertical axis, i.e. ``torch.flip(x, dims=[-1])`` on
an image, as in escnn's ``flipRot2dOnR2``.  Elements are listed rotations
first, then reflections, which is also the channel order of a regular field.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from .._checks import check_int, check_number

if TYPE_CHECKING:
    from ..fields import FieldType
    from ._representation import Representation

__all__ = ["Cyclic", "Dihedral", "GroupElement", "PointGroup", "Trivial"]


@dataclass(frozen=True)
class GroupElement:
    """The element ``r^rotation f^reflection`` of a point group.

    Attributes:
        group: the group it belongs to.
        rotation: the power ``k`` of the generating rotation, in ``[0, N)``.
        reflection: ``True`` when the element includes the mirror ``x -> -x``.
    """

    group: PointGroup
    rotation: int  # (an exact Fraction off the sample of a continuous group's elements: SO2, O2)
    reflection: bool = False

    def __post_init__(self) -> None:
        # an element built by hand (G.element(k) is the checked way): say what is wrong here, not later in a
        # repr or an index
        if not isinstance(self.group, PointGroup):
            raise TypeError(f"`group` must be an eqcnn group (Trivial, Cyclic, Dihedral), got {self.group!r}")
        r = self.rotation
        if self.group.is_continuous:  # any angle: a real rotation in [0, N)
            if isinstance(r, bool) or not isinstance(r, numbers.Real):
                raise TypeError(f"`rotation` must be a real number, got {type(r).__name__} ({r!r})")
            if not 0 <= r < self.group.N:
                raise ValueError(
                    f"`rotation` must be a real number in [0, {self.group.N}) for {self.group!r}, got {r!r} "
                    "(group.rotation_by(degrees) takes any angle)"
                )
            if self.reflection and not self.group.has_reflections:
                raise ValueError(f"`reflection` (=True) needs a group with reflections; {self.group!r} has none")
            # one stored value per element, so equal elements compare and hash equal (30 and 390 degrees)
            object.__setattr__(self, "rotation", self.group._wrap(r))
            return
        if isinstance(r, bool) or not isinstance(r, numbers.Integral):
            raise TypeError(f"`rotation` must be an int, got {type(r).__name__} ({r!r})")
        if not 0 <= r < self.group.N:
            raise ValueError(
                f"`rotation` must be an int in [0, {self.group.N}) for {self.group!r}, got {self.rotation!r} "
                "(group.element(k) takes any int, modulo N)"
            )
        if self.reflection and not self.group.has_reflections:
            raise ValueError(f"`reflection` (=True) needs a group with reflections; {self.group!r} has none")

    @property
    def angle(self) -> float:
        """Rotation angle in radians, counter-clockwise, in ``[0, 2 pi)``."""
        # float first: the same value without Fraction's mixed-type dispatch (a continuous group's off-sample angle)
        return 2 * math.pi * float(self.rotation) / self.group.N

    @property
    def index(self) -> int:
        """Position of the element in ``group.elements`` (and in a regular field)."""
        if not isinstance(self.rotation, numbers.Integral):  # (a Fraction: off the sample)
            raise ValueError(f"{self!r} is not one of the sampled `elements` of {self.group!r}, so it has no index")
        return self.rotation + self.group.N * int(self.reflection)

    @property
    def on_sample(self) -> bool:
        """Whether the element is one of ``group.elements`` (always, for a finite group)."""
        return isinstance(self.rotation, numbers.Integral)

    @property
    def quarter_turns(self) -> int | None:
        """The angle as a number of 90-degree turns, or ``None`` if it is not one."""
        q, rem = divmod(4 * self.rotation, self.group.N)
        return q if rem == 0 else None

    @property
    def is_grid_symmetry(self) -> bool:
        """Whether the element maps the square pixel grid onto itself."""
        return self.quarter_turns is not None

    def __matmul__(self, other: GroupElement) -> GroupElement:
        return self.group.compose(self, other)

    def __mul__(self, other: GroupElement) -> GroupElement:
        return self.group.compose(self, other)

    def inverse(self) -> GroupElement:
        return self.group.inverse(self)

    def matrix(self) -> np.ndarray:
        """The 2x2 matrix of the element acting on plane coordinates ``(x, y)``."""
        c, s = _cos_sin(self.angle)
        rot = np.array([[c, -s], [s, c]])
        if self.reflection:
            rot = rot @ np.diag([-1.0, 1.0])
        return rot

    def __repr__(self) -> str:
        deg = float(self.rotation * 360 / self.group.N)
        deg_s = f"{round(deg, 9):g}"
        return f"{self.group!r}[rot {deg_s} deg{', flip' if self.reflection else ''}]"


def _cos_sin(angle: float) -> tuple[float, float]:
    """cos and sin, exact (0 or +-1) at multiples of 90 degrees."""
    c, s = math.cos(angle), math.sin(angle)
    c = round(c) if abs(c - round(c)) < 1e-12 else c
    s = round(s) if abs(s - round(s)) < 1e-12 else s
    return float(c), float(s)


class PointGroup:
    """A finite group of rotations (and reflections) of the plane about the origin.

    Use the concrete groups :class:`Trivial`, :class:`Cyclic` and :class:`Dihedral`.
    """

    N: int
    has_reflections: bool
    #: SO(2) and O(2) (:mod:`eqcnn.groups._continuous`): ``elements`` is then a finite sample
    is_continuous: bool = False
    #: the dimension of the space the group acts on: 2 (images, ``(B, C, H, W)``), 3 (volumes,
    #: ``(B, C, D, H, W)``: :mod:`eqcnn.groups._octahedral`), or ``None`` for ``Trivial()``, which acts on both
    spatial_dims: int | None = 2

    def __init__(self, N: int, reflections: bool) -> None:
        check_int("N", N, minimum=1)
        self.N = int(N)
        self.has_reflections = bool(reflections)

    # -- identity and pickling ------------------------------------------------
    def _key(self) -> tuple[int, bool]:
        return (self.N, self.has_reflections)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PointGroup) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(("PointGroup", *self._key()))

    def __reduce__(self):  # rebuild through the constructor (caches are not pickled)
        return (type(self), self._ctor_args())

    def _ctor_args(self) -> tuple:
        return (self.N,)

    # -- structure --------------------------------------------------------------
    @property
    def order(self) -> int:
        """Number of elements."""
        return self.N * (2 if self.has_reflections else 1)

    @cached_property
    def elements(self) -> tuple[GroupElement, ...]:
        """All elements: rotations by ``2 pi k / N``, then the reflected ones."""
        flips = (False, True) if self.has_reflections else (False,)
        return tuple(GroupElement(self, k, f) for f in flips for k in range(self.N))

    @property
    def identity(self) -> GroupElement:
        return self.elements[0]

    @property
    def generators(self) -> tuple[GroupElement, ...]:
        gens = []
        if self.N > 1:
            gens.append(GroupElement(self, 1, False))
        if self.has_reflections:
            gens.append(GroupElement(self, 0, True))
        return tuple(gens)

    def element(self, rotation: int = 0, reflection: bool = False) -> GroupElement:
        """The element ``r^rotation f^reflection`` (rotation taken modulo N)."""
        check_int("rotation", rotation)
        if reflection and not self.has_reflections:
            raise ValueError(f"`reflection` (=True) needs a group with reflections; {self!r} has none")
        return GroupElement(self, int(rotation) % self.N, bool(reflection))

    def rotation_by(self, degrees: float) -> GroupElement:
        """The rotation by ``degrees`` counter-clockwise; it must be a multiple of 360/N."""
        steps = check_number("degrees", degrees) * self.N / 360.0
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"`degrees` (={degrees}) must be a multiple of {360 / self.N:g} for {self!r}")
        return self.element(round(steps))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        """``a b``: first ``b``, then ``a``."""
        self._check_member(a, "a")
        self._check_member(b, "b")
        sign = -1 if a.reflection else 1
        return GroupElement(self, self._wrap(a.rotation + sign * b.rotation), a.reflection != b.reflection)

    def inverse(self, a: GroupElement) -> GroupElement:
        self._check_member(a, "a")
        if a.reflection:
            return a
        return GroupElement(self, self._wrap(-a.rotation), False)

    def _wrap(self, rotation):
        """``rotation`` modulo ``N``: an int, or for a continuous group's off-sample element a ``Fraction``."""
        if isinstance(rotation, numbers.Integral):
            return rotation % self.N
        # an exact fraction of a step (a float is read as the nearest fraction with a denominator up to 10^9):
        # compositions are exact, so the same angle reached two ways is one element (equal, one hash)
        r = (rotation if isinstance(rotation, Fraction) else Fraction(rotation).limit_denominator(10**9)) % self.N
        return int(r) if r.denominator == 1 else r

    def _check_member(self, a: object, name: str) -> None:
        if not isinstance(a, GroupElement) or a.group != self:
            raise ValueError(f"`{name}` must be an element of {self!r}, got {a!r}")

    @property
    def is_grid_symmetric(self) -> bool:
        """Whether every element maps the square pixel grid onto itself (N in 1, 2, 4)."""
        return all(g.is_grid_symmetry for g in self.elements)

    # -- representations ----------------------------------------------------------
    @cached_property
    def trivial_representation(self) -> Representation:
        from ._representation import trivial_representation

        return trivial_representation(self)

    @cached_property
    def regular_representation(self) -> Representation:
        from ._representation import regular_representation

        return regular_representation(self)

    def irrep(self, *index: int) -> Representation:
        """An irreducible representation; see :meth:`irreps` for the valid indices."""
        from ._representation import irrep

        return irrep(self, *index)

    def irreps(self) -> list[Representation]:
        """All irreducible representations of the group."""
        from ._representation import all_irreps

        return all_irreps(self)

    def quotient_representation(self, subgroup: PointGroup) -> Representation:
        """The group permuting the cosets ``g H`` of ``subgroup`` (escnn's ``quotient_repr``).

        ``Cyclic(8).quotient_representation(Cyclic(2))`` has 4 channels,
        ``Dihedral(8).quotient_representation(Cyclic(8))`` 2 (the sign of the
        reflection, as a permutation), ``Dihedral(8).quotient_representation(Dihedral(1))``
        8 (escnn's ``Dn/flips``).  A permutation of channels, so pointwise
        nonlinearities, max pooling and group pooling take it like a regular field.
        """
        from ._subgroup import quotient_representation

        return quotient_representation(self, subgroup)

    def is_subgroup(self, subgroup: object) -> bool:
        """Whether every element of ``subgroup`` is an element of this group (``Cyclic(4)`` in ``Dihedral(8)``)."""
        from ._subgroup import is_subgroup

        return is_subgroup(subgroup, self)

    def embed(self, h: GroupElement) -> GroupElement:
        """The element of this group equal to ``h``, an element of one of its subgroups."""
        from ._subgroup import embed

        return embed(self, h)

    # -- field types ------------------------------------------------------------------
    def trivial(self, multiplicity: int = 1) -> FieldType:
        """``multiplicity`` scalar fields (one channel each): e.g. an RGB image is ``trivial(3)``."""
        from ..fields import FieldType

        return FieldType.repeat(self, self.trivial_representation, multiplicity)

    def regular(self, multiplicity: int = 1) -> FieldType:
        """``multiplicity`` regular fields of ``order`` channels each."""
        from ..fields import FieldType

        return FieldType.repeat(self, self.regular_representation, multiplicity)

    def quotient(self, subgroup: PointGroup, multiplicity: int = 1) -> FieldType:
        """``multiplicity`` quotient fields ``G / subgroup`` (see :meth:`quotient_representation`)."""
        from ..fields import FieldType

        return FieldType.repeat(self, self.quotient_representation(subgroup), multiplicity)

    def irreps_field(self, *index: int, multiplicity: int = 1) -> FieldType:
        """``multiplicity`` fields of the irreducible representation ``irrep(*index)``."""
        from ..fields import FieldType

        return FieldType.repeat(self, self.irrep(*index), multiplicity)


class Cyclic(PointGroup):
    """C_N: the N rotations by multiples of ``360/N`` degrees."""

    def __init__(self, N: int) -> None:
        super().__init__(N, reflections=False)

    def __repr__(self) -> str:
        return f"Cyclic({self.N})"


class Trivial(Cyclic):
    """The group with one element: translations only, i.e. the ordinary CNN."""

    spatial_dims = None  # translations only: images and volumes alike

    def __init__(self) -> None:
        super().__init__(1)

    def _ctor_args(self) -> tuple:
        return ()

    def __repr__(self) -> str:
        return "Trivial()"


class Dihedral(PointGroup):
    """D_N: the N rotations of :class:`Cyclic` and N reflections (2N elements)."""

    def __init__(self, N: int) -> None:
        super().__init__(N, reflections=True)

    def __repr__(self) -> str:
        return f"Dihedral({self.N})"
