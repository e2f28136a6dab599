"""FieldType: how the channels of a feature tensor transform under a group."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

import numpy as np
import torch

from .._checks import check_choice, check_int, check_tensor, describe
from ..groups import GroupElement, PointGroup, Representation
from ._spatial import Interpolation, move_voxels, rotate_pixels

__all__ = ["FieldType"]


class FieldType:
    """A group and a list of representations, one per field.

    Attributes:
        group: the group.
        representations: one representation per field.
        size: the number of channels (sum of the representations' sizes).
        field_starts: the first channel of each field.

    A feature tensor of this type has shape ``(B, size, H, W)`` (for the
    octahedral groups ``(B, size, D, H, W)``): the channels
    of field 0 first, then field 1, and so on (escnn's layout).  Under a group
    element ``g`` the tensor transforms as
    ``(g . f)(x) = rho(g) f(g^-1 x)``: pixels move and each field's channels
    are mixed by its representation.

    Build one with ``G.trivial(n)``, ``G.regular(n)``, ``G.irreps_field(k)``
    and ``+`` to concatenate.

    Example:
        >>> import eqcnn
        >>> G = eqcnn.Cyclic(8)
        >>> t = G.trivial(3) + G.regular(2)
        >>> t.size
        19
        >>> t
        Cyclic(8).trivial(3) + Cyclic(8).regular(2)
    """

    def __init__(self, group: PointGroup, representations: Iterable[Representation]) -> None:
        if not isinstance(group, PointGroup):
            raise TypeError(f"`group` must be an eqcnn group (Trivial, Cyclic, Dihedral), got {group!r}")
        if isinstance(representations, Representation) or not hasattr(representations, "__iter__"):
            raise TypeError(
                f"`representations` must be a list of Representations (one per field), got {describe(representations)}"
            )
        reps = tuple(representations)
        for i, r in enumerate(reps):
            if not isinstance(r, Representation):
                raise TypeError(f"`representations[{i}]` must be a Representation, got {type(r).__name__}")
            if r.group != group:
                raise ValueError(
                    f"`representations[{i}]` belongs to {r.group!r}, not to the field type's group {group!r}"
                )
        self.group = group
        self.representations = reps
        # plain attributes (not cached properties): read in forward passes, and torch.compile
        # cannot trace the lock a cached_property takes on first use
        starts, c = [], 0
        for r in reps:
            starts.append(c)
            c += r.size
        self.size: int = c
        self.field_starts: tuple[int, ...] = tuple(starts)

    @classmethod
    def repeat(cls, group: PointGroup, rep: Representation, multiplicity: int) -> FieldType:
        check_int("multiplicity", multiplicity, minimum=0)
        return cls(group, [rep] * multiplicity)

    # -- basic properties -----------------------------------------------------------
    def __len__(self) -> int:
        """Number of fields."""
        return len(self.representations)

    def __add__(self, other: FieldType) -> FieldType:
        if not isinstance(other, FieldType):
            return NotImplemented
        if other.group != self.group:
            raise ValueError(f"cannot concatenate field types of different groups: {self.group!r} and {other.group!r}")
        return FieldType(self.group, self.representations + other.representations)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FieldType) and self.group == other.group and self.representations == other.representations
        )

    def __hash__(self) -> int:
        return hash((self.group, self.representations))

    def __reduce__(self):
        return (FieldType, (self.group, list(self.representations)))

    def runs(self) -> list[tuple[Representation, int]]:
        """Consecutive runs of equal representations: ``[(rep, count), ...]``."""
        out: list[tuple[Representation, int]] = []
        for r in self.representations:
            if out and out[-1][0] == r:
                out[-1] = (r, out[-1][1] + 1)
            else:
                out.append((r, 1))
        return out

    def channel_runs(self) -> list[tuple[int, int, int]]:
        """``(first channel, number of fields, channels per field)`` for each run of equal representations."""
        out, start = [], 0
        for rep, count in self.runs():
            out.append((start, count, rep.size))
            start += count * rep.size
        return out

    def __repr__(self) -> str:
        if not self.representations:
            return f"FieldType({self.group!r}, [])"
        parts = []
        for rep, n in self.runs():
            if rep.name in ("trivial", "regular"):
                parts.append(f"{self.group!r}.{rep.name}({n})")
            elif rep.name == "bl_regular":
                parts.append(f"{self.group!r}.bl_regular({n})")
            elif rep.name.startswith("quotient("):
                sub = rep.name[len("quotient(") : -1]
                parts.append(f"{self.group!r}.quotient({sub}{'' if n == 1 else f', {n}'})")
            elif rep.name.startswith("irrep("):
                idx = rep.name[len("irrep(") : -1]
                mult = "" if n == 1 else f", multiplicity={n}"
                parts.append(f"{self.group!r}.irreps_field({idx}{mult})")
            else:
                parts.append(f"FieldType({self.group!r}, [{rep.name}] * {n})")
        return " + ".join(parts)

    # -- subgroups -------------------------------------------------------------------------
    def restrict(self, subgroup: PointGroup) -> FieldType:
        """The same channels, seen by ``subgroup``: a type over ``subgroup`` for the same tensor.

        Each field's representation is restricted (its matrices at the
        subgroup's elements) and, where that needs no channel to move, split
        into the subgroup's own fields: a ``Dihedral(8)`` regular field is two
        ``Cyclic(8)`` regular fields, an irrep ``(1, k)`` the ``Cyclic(8)``
        irrep ``k``.  Fields that would need their channels reordered keep their
        restricted representation (named ``restrict(...)``); the layer
        :class:`eqcnn.nn.Restrict` reorders them into the subgroup's fields.

        Example:
            >>> import eqcnn
            >>> eqcnn.Dihedral(8).regular(2).restrict(eqcnn.Cyclic(8))
            Cyclic(8).regular(4)
        """
        return self._restriction(subgroup, reorder=False)[0]

    def _restriction(self, subgroup: PointGroup, reorder: bool) -> tuple[FieldType, np.ndarray, np.ndarray]:
        """``(type over subgroup, perm, signs)``: channel ``i`` of the new type is ``signs[i] * x[perm[i]]``.

        With ``reorder`` every field that a signed permutation splits into the
        subgroup's named fields is split (channels reordered as needed);
        without, only those whose split moves no channel.
        """
        from ..groups._subgroup import check_subgroup, decompose, restrict_representation

        check_subgroup("subgroup", subgroup, self.group)
        reps: list[Representation] = []
        perm: list[np.ndarray] = []
        signs: list[np.ndarray] = []
        for start, rep in zip(self.field_starts, self.representations):
            restricted = restrict_representation(rep, subgroup)
            split = decompose(restricted)
            if split is not None and (reorder or split.is_view):
                reps.extend(split.parts)
                perm.append(start + split.perm)
                signs.append(split.signs)
            else:
                reps.append(restricted)
                perm.append(start + np.arange(rep.size))
                signs.append(np.ones(rep.size))
        cat = (lambda a: np.concatenate(a)) if perm else (lambda a: np.zeros(0))
        return FieldType(subgroup, reps), cat(perm).astype(np.int64), cat(signs)

    # -- structure used by layers ---------------------------------------------------------
    @property
    def is_trivial(self) -> bool:
        """Whether every channel is a scalar (invariant) field."""
        return all(r.is_trivial for r in self.representations)

    @property
    def is_regular(self) -> bool:
        if self.group.is_continuous:
            return False
        return all(r == self.group.regular_representation for r in self.representations)

    def fibre_matrix(self, g: GroupElement) -> np.ndarray:
        """Block-diagonal ``size x size`` matrix of ``g`` acting on the channels."""
        self.group._check_member(g, "g")
        m = np.zeros((self.size, self.size))
        for start, r in zip(self.field_starts, self.representations):
            m[start : start + r.size, start : start + r.size] = r(g)
        return m

    @cached_property
    def invariant_basis(self) -> np.ndarray:
        """``size x n`` basis of the channel vectors fixed by the group (where biases live)."""
        cols = []
        for start, r in zip(self.field_starts, self.representations):
            b = r.invariant_basis
            full = np.zeros((self.size, b.shape[1]))
            full[start : start + r.size] = b
            cols.append(full)
        return np.concatenate(cols, axis=1) if cols else np.zeros((0, 0))

    def _permutation(self, g: GroupElement) -> list[int] | None:
        """Channel index list ``p`` with ``(rho(g) v)[i] = v[p[i]]``, when rho(g) is a permutation."""
        m = self.fibre_matrix(g)
        if not (np.all((m == 0) | (m == 1)) and np.all(m.sum(axis=1) == 1)):
            return None
        return [int(j) for j in m.argmax(axis=1)]

    # -- action on tensors ---------------------------------------------------------------------
    @property
    def spatial_dims(self) -> int | None:
        """2 for images ``(B, C, H, W)``, 3 for volumes ``(B, C, D, H, W)``, ``None`` (either) for ``Trivial()``."""
        return self.group.spatial_dims

    def transform_fibres(self, x: torch.Tensor, g: GroupElement) -> torch.Tensor:
        """Mix each field's channels by ``rho(g)``, leaving pixels (voxels) where they are."""
        dims = check_tensor(x, self.size, f"{self!r}.transform", self.spatial_dims)
        axis = -(dims + 1)
        perm = self._permutation(g)
        if perm is not None:
            return x.index_select(axis, torch.tensor(perm, device=x.device))
        m = torch.as_tensor(self.fibre_matrix(g), dtype=x.dtype, device=x.device)
        return torch.movedim(torch.tensordot(m, x.movedim(axis, 0), dims=([1], [0])), 0, axis)

    def transform(self, x: torch.Tensor, g: GroupElement, interpolation: Interpolation = "bicubic") -> torch.Tensor:
        """Act with ``g`` on a feature tensor: ``(g . f)(x) = rho(g) f(g^-1 x)``.

        Exact for elements that map the pixel grid onto itself (multiples of 90
        degrees and reflections); other angles resample the pixels with
        ``interpolation`` (zero outside the image).  Over an octahedral group
        the voxels move by the element's signed permutation of the axes, always
        exactly (:func:`eqcnn.fields.move_voxels`).

        Args:
            x: tensor of shape ``(B, size, H, W)`` or ``(size, H, W)``; for the
                octahedral groups ``(B, size, D, H, W)`` or ``(size, D, H, W)``.
            g: an element of ``self.group``.
        """
        self.group._check_member(g, "g")
        check_choice("interpolation", interpolation, ("bilinear", "bicubic", "nearest"))
        dims = check_tensor(x, self.size, f"{self!r}.transform", self.spatial_dims)
        if self.group.order == 1:
            return x.clone()  # (a new tensor, as for every other element)
        if dims == 3:
            return self.transform_fibres(move_voxels(x, g.matrix().round().astype(int)), g)
        y = rotate_pixels(x, g.angle, g.reflection, interpolation=interpolation)
        return self.transform_fibres(y, g)
