"""The continuous groups of the plane: SO(2) (every rotation) and O(2) (with the mirrors).

An element may have any angle: ``G.rotation_by(degrees)``.  Its ``rotation`` is
the angle in units of ``360 / N`` degrees, a float (an int on the sample, below).

Features over a continuous group are band-limited: their fields are direct sums
of irreps up to the group's ``max_frequency`` L.  The irreps follow escnn:

- ``SO2``: ``irrep(k)``, ``0 <= k <= L``: trivial for ``k = 0``, else the
  rotation of a 2-vector by ``k`` times the angle.
- ``O2``: ``irrep(0, 0)`` trivial, ``irrep(1, 0)`` the sign of the mirror,
  ``irrep(1, k)`` for ``1 <= k <= L``: rotation by ``k`` times the angle, the
  mirror ``diag(1, -1)``.

``G.bl_regular(n)`` (escnn's ``bl_regular``) is the regular-like field: every
irrep up to L once, i.e. the Fourier coefficients of a band-limited function on
the group.  There is no regular field (it would have infinitely many channels).

``G.elements`` is a finite sample (the ``N`` rotations by multiples of
``360 / N`` degrees, ``N`` a multiple of 4 above ``2 L``, and their mirror images
for O2): it is what ``order`` counts, what a representation stores its
matrices on, and what the test harness checks.  Representations are evaluated
analytically at any angle; the kernel constraint is solved for every angle (on a
rotation by one radian, whose powers are dense in the circle), not on the sample.
"""

from __future__ import annotations

import math
import numbers
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from .._checks import check_int, check_number
from ._group import GroupElement, PointGroup, _cos_sin

if TYPE_CHECKING:
    from ..fields import FieldType
    from ._representation import Representation

__all__ = ["O2", "SO2", "ContinuousGroup"]


def _default_samples(max_frequency: int) -> int:
    """The sample size: the smallest multiple of 4 above ``2 L``, and at least 8."""
    return max(8, 4 * math.ceil((2 * max_frequency + 1) / 4))


class ContinuousGroup(PointGroup):
    """SO(2) or O(2), band-limited at ``max_frequency``; see the module documentation."""

    is_continuous = True
    max_frequency: int

    def __init__(self, max_frequency: int, reflections: bool, samples: int | None = None) -> None:
        L = check_int("max_frequency", max_frequency, minimum=0)
        if samples is None:
            samples = _default_samples(L)
        n = check_int("samples", samples, minimum=1)
        if n <= 2 * L or n % 4:
            raise ValueError(
                f"`samples` must be a multiple of 4 above 2 * max_frequency (={2 * L}), so that the sampled "
                f"elements tell every irrep apart and hold the quarter turns, got {samples}"
            )
        super().__init__(n, reflections)
        self.max_frequency = L

    def __repr__(self) -> str:
        extra = "" if _default_samples(self.max_frequency) == self.N else f", samples={self.N}"
        return f"{type(self).__name__}(max_frequency={self.max_frequency}{extra})"

    def _key(self) -> tuple:
        return (self.N, self.has_reflections, "continuous", self.max_frequency)

    def __hash__(self) -> int:
        return hash(("ContinuousGroup", *self._key()))

    def _ctor_args(self) -> tuple:
        return (self.max_frequency, self.N)

    @cached_property  # (a Fraction each: made once, every kernel basis reads them)
    def generators(self) -> tuple[GroupElement, ...]:  # type: ignore[override]
        """Rotations by one and by sqrt(2) radians (the powers of each are dense in the circle, so the
        constraint holds at every angle), and the mirror for O(2).

        One generator alone would do in exact arithmetic; in floating point a frequency ``j`` with ``j``
        radians within 1e-4 of a multiple of 2 pi (``j = 710``) would pass its null-space test. The
        two angles are never that close to multiples of 2 pi at the same ``j`` below 10^4."""
        gens = [
            GroupElement(self, self.N / (2 * math.pi), False),  # type: ignore[arg-type]
            GroupElement(self, math.sqrt(2) * self.N / (2 * math.pi), False),  # type: ignore[arg-type]
        ]
        if self.has_reflections:
            gens.append(GroupElement(self, 0, True))
        return tuple(gens)

    def rotation_by(self, degrees: float) -> GroupElement:
        """The rotation by ``degrees`` counter-clockwise: any angle."""
        steps = self._wrap(check_number("degrees", degrees) * self.N / 360.0)
        return GroupElement(self, steps, False)

    def element_at(self, degrees: float, reflection: bool = False) -> GroupElement:
        """The element turning by ``degrees`` after the mirror (when ``reflection``)."""
        r = self.rotation_by(degrees)
        if reflection and not self.has_reflections:
            raise ValueError(f"`reflection` (=True) needs a group with reflections; {self!r} has none")
        return GroupElement(self, r.rotation, bool(reflection))

    @property
    def is_grid_symmetric(self) -> bool:
        return False

    # -- representations ---------------------------------------------------------------
    @cached_property
    def regular_representation(self) -> Representation:
        raise ValueError(
            f"{self!r} has no regular representation (it would have infinitely many channels); use the "
            f"band-limited regular-like field {self!r}.bl_regular(n) (every irrep up to max_frequency="
            f"{self.max_frequency}) instead"
        )

    def regular(self, multiplicity: int = 1) -> FieldType:
        """Refused: use :meth:`bl_regular`."""
        raise ValueError(
            f"{self!r} has no regular fields (they would have infinitely many channels); use the band-limited "
            f"regular-like fields {self!r}.bl_regular({multiplicity}) (every irrep up to max_frequency="
            f"{self.max_frequency}) instead"
        )

    def quotient_representation(self, subgroup: PointGroup) -> Representation:
        raise ValueError(f"quotient representations of {self!r} are not supported (only of Cyclic(N), Dihedral(N))")

    def irrep(self, *index: int) -> Representation:
        """``irrep(k)`` (SO2) or ``irrep(j, k)`` (O2), ``k <= max_frequency``."""
        return continuous_irrep(self, *index)

    def irreps(self) -> list[Representation]:
        """The irreps up to ``max_frequency``."""
        if self.has_reflections:
            return [self.irrep(0, 0), self.irrep(1, 0), *[self.irrep(1, k) for k in range(1, self.max_frequency + 1)]]
        return [self.irrep(k) for k in range(self.max_frequency + 1)]

    @cached_property
    def bl_regular_representation(self) -> Representation:
        """The irreps up to ``max_frequency``, each as often as its dimension in the regular representation
        (escnn's ``bl_regular``): SO(2) every irrep once, ``2 L + 1`` channels; O(2) the two 1-D irreps
        once and each ``irrep(1, k)`` twice, ``4 L + 2`` channels.  The Fourier coefficients of a
        band-limited function on the group, which :class:`eqcnn.nn.FourierPointwise` samples."""
        from ._representation import direct_sum

        parts = [p for p in self.irreps() for _ in range(p.size if self.has_reflections else 1)]
        return direct_sum(parts, name="bl_regular")

    def bl_regular(self, multiplicity: int = 1) -> FieldType:
        """``multiplicity`` band-limited regular-like fields (see :attr:`bl_regular_representation`)."""
        from ..fields import FieldType

        return FieldType.repeat(self, self.bl_regular_representation, multiplicity)


class SO2(ContinuousGroup):
    """SO(2): the rotations by every angle, with features band-limited at ``max_frequency``.

    Args:
        max_frequency: the highest irrep a field of this group may hold (L).
        samples: the size ``N`` of the finite sample of elements (``elements``;
            a multiple of 4 above ``2 L``, default the smallest one that is at least 8).

    Example:
        >>> import eqcnn
        >>> G = eqcnn.SO2(max_frequency=3)
        >>> G.bl_regular(2).size
        14
        >>> G.rotation_by(30)
        SO2(max_frequency=3)[rot 30 deg]
    """

    def __init__(self, max_frequency: int = 3, samples: int | None = None) -> None:
        super().__init__(max_frequency, reflections=False, samples=samples)


class O2(ContinuousGroup):
    """O(2): every rotation and every mirror, with features band-limited at ``max_frequency``.

    Args:
        max_frequency, samples: as for :class:`SO2` (``elements`` holds ``2 N``).
    """

    def __init__(self, max_frequency: int = 3, samples: int | None = None) -> None:
        super().__init__(max_frequency, reflections=True, samples=samples)


def _irrep_function(group: ContinuousGroup, index: tuple[int, ...]):
    """``g -> rho(g)`` for the irrep ``index`` at any angle (exact entries at multiples of 90 degrees)."""

    def rot(k: int, g: GroupElement) -> np.ndarray:
        c, s = _cos_sin(k * g.angle)
        return np.array([[c, -s], [s, c]])

    if not group.has_reflections:
        (k,) = index
        if k == 0:
            return lambda g: np.ones((1, 1))
        return lambda g: rot(k, g)
    j, k = index
    if k == 0:
        return lambda g: np.array([[-1.0 if (j == 1 and g.reflection) else 1.0]])
    return lambda g: rot(k, g) @ (np.diag([1.0, -1.0]) if g.reflection else np.eye(2))


def continuous_irrep(group: ContinuousGroup, *index: int) -> Representation:
    from ._representation import Representation, trivial_representation

    index = tuple(check_int(f"index[{i}]", k) for i, k in enumerate(index))
    L = group.max_frequency
    if not group.has_reflections:
        if len(index) != 1 or not 0 <= index[0] <= L:
            raise ValueError(
                f"irreps of {group!r} are irrep(k) with 0 <= k <= max_frequency (={L}); got irrep{tuple(index)}"
                " (build the group with a larger max_frequency for higher frequencies)"
            )
        name = f"irrep({index[0]})"
    else:
        if len(index) != 2 or index[0] not in (0, 1) or not 0 <= index[1] <= L or (index[0] == 0 and index[1] > 0):
            raise ValueError(
                f"irreps of {group!r} are irrep(0, 0), irrep(1, 0) and irrep(1, k) with 1 <= k <= max_frequency "
                f"(={L}); got irrep{tuple(index)}"
            )
        name = f"irrep({index[0]}, {index[1]})"
    if index in ((0,), (0, 0)):
        return trivial_representation(group)
    fn = _irrep_function(group, index)
    mats = np.stack([fn(g) for g in group.elements])
    rep = Representation(group, name, mats, function=fn, rebuild=(continuous_irrep, (group, *index)))
    rep._frequency = index[-1]
    return rep


def check_continuous_rotation(value: object) -> bool:
    """Whether ``value`` may be the ``rotation`` of a continuous group's element (a real number)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
