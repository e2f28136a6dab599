"""Real orthogonal representations of the point groups.

A representation of a finite group is stored as the stack of its matrices, one
per element in ``group.elements`` order, so it is plain data: hashable,
picklable and cheap to compare.  Matrix entries at multiples of 90 degrees are
exact (0 or +-1), so transforms by those elements are exact in floating point.

Irreducible representations follow escnn's naming and matrices:

- ``Cyclic(N)``: ``irrep(k)`` for ``0 <= k <= N // 2``; ``irrep(0)`` is trivial,
  ``irrep(k)`` for ``0 < k < N/2`` rotates a 2-vector by ``k`` times the angle,
  ``irrep(N/2)`` (N even) is the sign ``(-1)^rotation``.
- ``Dihedral(N)``: ``irrep(j, k)``; ``(0, 0)`` trivial, ``(1, 0)`` the sign of
  the reflection, ``(1, k)`` for ``0 < k < N/2`` is 2-D (rotation by ``k`` times
  the angle, reflection ``diag(1, -1)``), and for N even ``(0, N/2)`` and
  ``(1, N/2)``: ``(-1)^rotation``, times the reflection sign for ``j = 1``.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ._group import GroupElement, PointGroup, _cos_sin

__all__ = ["Representation", "all_irreps", "direct_sum", "irrep", "regular_representation", "trivial_representation"]


class Representation:
    """A real orthogonal representation ``rho`` of a point group.

    Args:
        group: the group.
        name: a short name (``"trivial"``, ``"regular"``, ``"irrep(1)"``...).
        matrices: array of shape ``(group.order, size, size)``; entry ``i`` is
            ``rho(group.elements[i])``.
    """

    def __init__(self, group: PointGroup, name: str, matrices: np.ndarray, function=None, rebuild=None) -> None:
        if not isinstance(group, PointGroup):
            raise TypeError(f"`group` must be an eqcnn group (Trivial, Cyclic, Dihedral), got {group!r}")
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a str, got {type(name).__name__} ({name!r})")
        try:
            matrices = np.asarray(matrices, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"`matrices` must be an array of real numbers of shape ({group.order}, d, d), "
                f"got {type(matrices).__name__}"
            ) from None
        if matrices.ndim != 3 or matrices.shape[0] != group.order or matrices.shape[1] != matrices.shape[2]:
            raise ValueError(f"`matrices` must have shape ({group.order}, d, d) for {group!r}, got {matrices.shape}")
        if not np.all(np.isfinite(matrices)):
            raise ValueError("`matrices` must be finite (no NaN or infinity)")
        self.group = group
        self.name = name
        self.matrices = matrices
        self.matrices.setflags(write=False)
        # continuous groups: the matrix at any angle, and how to rebuild the representation (a function does
        # not pickle)
        self.function = function
        self._rebuild = rebuild
        self._components: tuple[Representation, ...] | None = None
        self._frequency: int | None = None  # set by the continuous groups' irreps (``frequency``)

    @property
    def components(self) -> tuple[Representation, ...] | None:
        """The irreps this representation is the direct sum of, in channel order, when known: itself for an
        irrep or the trivial representation, the parts of a ``bl_regular`` field; else ``None``."""
        if self._components is not None:
            return self._components
        if self.is_trivial or self.name.startswith("irrep("):
            return (self,)
        return None

    @property
    def frequency(self) -> int | None:
        """The angular frequency ``k`` of an irrep of a continuous group (``irrep(k)`` of SO(2), ``irrep(j, k)``
        of O(2); 0 for the trivial representation), else ``None``: it decides which kernels can map it."""
        if not self.group.is_continuous:
            return None
        if self.is_trivial and self.function is None:  # (trivial at every angle, not only on the sample)
            return 0
        return self._frequency  # recorded by the group when it built the irrep, never read from the name

    def __reduce__(self):
        if self._rebuild is not None:
            return self._rebuild
        return (Representation, (self.group, self.name, self.matrices))

    @property
    def size(self) -> int:
        return self.matrices.shape[1]

    def __call__(self, g: GroupElement) -> np.ndarray:
        """The matrix ``rho(g)``."""
        self.group._check_member(g, "g")
        if g.on_sample:
            return self.matrices[g.index]
        if self.function is None:
            if self.is_trivial:
                return np.ones((1, 1))
            raise ValueError(f"{self!r} is known on the sampled elements only, not at {g!r}")
        return self.function(g)

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, Representation)
            and self.group == other.group
            and self.name == other.name
            and np.array_equal(self.matrices, other.matrices)
        )

    def __hash__(self) -> int:
        return hash((self.group, self.name, self.size))

    def __repr__(self) -> str:
        return f"{self.group!r}.{self.name}"

    @cached_property
    def invariant_basis(self) -> np.ndarray:
        """Basis of the vectors fixed by every ``rho(g)``, shape ``(size, n)``.

        Each column is scaled so its largest entry is 1 (for a regular field:
        all ones).  This is where a bias may live.
        """
        if self.is_permutation:
            # the fixed vectors are the indicators of the channel orbits: exact ones
            reach = self.matrices.sum(axis=0) > 0  # reach[i, j]: some g maps channel j to i
            orbits = {tuple(np.flatnonzero(reach[:, j])) for j in range(self.size)}
            basis = np.zeros((self.size, len(orbits)))
            for col, orbit in enumerate(sorted(orbits)):
                basis[list(orbit), col] = 1.0
            return basis
        proj = self.matrices.mean(axis=0)
        u, s, _ = np.linalg.svd(proj)
        basis = u[:, s > 0.5]  # a projector has singular values 0 or 1
        for j in range(basis.shape[1]):
            col = basis[:, j]
            basis[:, j] = col / col[np.argmax(np.abs(col))]
        return basis

    @cached_property
    def is_trivial(self) -> bool:
        return self.size == 1 and bool(np.all(self.matrices == 1))

    @cached_property
    def is_permutation(self) -> bool:
        """Whether every matrix is a permutation (e.g. trivial and regular)."""
        m = self.matrices
        return bool(np.all((m == 0) | (m == 1)) and np.all(m.sum(axis=1) == 1))


def trivial_representation(group: PointGroup) -> Representation:
    return Representation(group, "trivial", np.ones((group.order, 1, 1)))


def direct_sum(parts: list[Representation], name: str) -> Representation:
    """The block-diagonal representation of ``parts`` (in order), named ``name``."""
    group = parts[0].group
    size = sum(p.size for p in parts)

    def at(g: GroupElement) -> np.ndarray:
        m = np.zeros((size, size))
        s = 0
        for p in parts:
            m[s : s + p.size, s : s + p.size] = p(g)
            s += p.size
        return m

    mats = np.stack([at(g) for g in group.elements])
    out = Representation(group, name, mats, function=at, rebuild=(direct_sum, (list(parts), name)))
    if all(p.components is not None for p in parts):
        out._components = tuple(c for p in parts for c in p.components)  # type: ignore[union-attr]
    return out


def regular_representation(group: PointGroup) -> Representation:
    """``rho(g) e_h = e_{g h}``: a permutation of the ``order`` channels."""
    n = group.order
    mats = np.zeros((n, n, n))
    for g in group.elements:
        for h in group.elements:
            mats[g.index, (g @ h).index, h.index] = 1.0
    if n == 1:
        # For the trivial group the regular representation *is* the trivial one.
        return trivial_representation(group)
    return Representation(group, "regular", mats)


def _rot(angle: float) -> np.ndarray:
    c, s = _cos_sin(angle)
    return np.array([[c, -s], [s, c]])


def irrep(group: PointGroup, *index: int) -> Representation:
    """The irreducible representation with the given index (see module doc)."""
    from .._checks import check_int

    if group.spatial_dims == 3:
        return group.irrep(*index)
    if group.is_continuous:
        from ._continuous import continuous_irrep

        return continuous_irrep(group, *index)  # type: ignore[arg-type]
    index = tuple(check_int(f"index[{i}]", k) for i, k in enumerate(index))
    N = group.N
    if not group.has_reflections:
        if len(index) != 1 or not 0 <= index[0] <= N // 2:
            raise ValueError(f"irreps of {group!r} are irrep(k) with 0 <= k <= {N // 2}; got irrep{tuple(index)}")
        (k,) = index
        if k == 0:
            return trivial_representation(group)
        mats: list = []
        for g in group.elements:
            if 2 * k == N:
                mats.append([[(-1.0) ** g.rotation]])
            else:
                mats.append(_rot(k * g.angle))
        return Representation(group, f"irrep({k})", np.array(mats))

    if (
        len(index) != 2
        or index[0] not in (0, 1)
        or not 0 <= index[1] <= N // 2
        or (index[0] == 0 and 0 < 2 * index[1] < N)
    ):
        valid = ["(0, 0)", "(1, 0)"] + [f"(1, {k})" for k in range(1, (N + 1) // 2)]
        if N % 2 == 0:
            valid += [f"(0, {N // 2})", f"(1, {N // 2})"]
        raise ValueError(f"irreps of {group!r} are irrep{', irrep'.join(valid)}; got irrep{tuple(index)}")
    j, k = index
    if (j, k) == (0, 0):
        return trivial_representation(group)
    mats = []
    for g in group.elements:
        flip_sign = -1.0 if (j == 1 and g.reflection) else 1.0
        if k == 0 or 2 * k == N:
            rot_sign = (-1.0) ** (g.rotation * k * 2 // N) if k else 1.0
            mats.append([[rot_sign * flip_sign]])
        else:
            m = _rot(k * g.angle)
            if g.reflection:
                m = m @ np.diag([1.0, -1.0])
            mats.append(m)
    return Representation(group, f"irrep({j}, {k})", np.array(mats))


def all_irreps(group: PointGroup) -> list[Representation]:
    if group.is_continuous or group.spatial_dims == 3:
        return group.irreps()
    N = group.N
    if not group.has_reflections:
        return [irrep(group, k) for k in range(N // 2 + 1)]
    out = [irrep(group, 0, 0), irrep(group, 1, 0)]
    out += [irrep(group, 1, k) for k in range(1, (N + 1) // 2)]
    if N % 2 == 0:
        out += [irrep(group, 0, N // 2), irrep(group, 1, N // 2)]
    return out
