"""Subgroups: the embedding of one point group in another, quotient representations, restriction.

Every eqcnn group uses one geometric convention (rotations counter-clockwise,
the mirror ``x -> -x``), so a subgroup is simply a group whose every element is
also one of the larger group's: ``Cyclic(M)`` and ``Dihedral(M)`` sit in
``Dihedral(N)`` (and ``Cyclic(M)`` in ``Cyclic(N)``) when ``M`` divides ``N``,
with the mirror axis of ``Dihedral(M)`` that of ``Dihedral(N)``; ``Trivial()``
sits in every group.  (escnn also has dihedral subgroups with other mirror
axes; eqcnn's are those through the vertical axis, escnn's axis ``0``.)

- :func:`embedding` maps each element of the subgroup to the same element of
  the group.
- :func:`quotient_representation`: the group permuting the cosets ``g H``
  (escnn's ``quotient_repr``): ``C_N / C_M`` has ``N / M`` channels,
  ``D_N / C_N`` two (the sign of the reflection, as a permutation),
  ``D_N / D_1`` (escnn's ``Dn/flips``) ``N``.
- :func:`restrict_representation`: the same matrices, at the subgroup's
  elements.  :func:`decompose` splits a restricted representation into the
  subgroup's own named representations (regular, quotient, trivial, irreps)
  by a signed permutation of its channels, when one exists.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._group import GroupElement, PointGroup
from ._representation import Representation, all_irreps, regular_representation, trivial_representation

__all__ = [
    "Decomposition",
    "check_subgroup",
    "decompose",
    "embedding",
    "is_subgroup",
    "quotient_representation",
    "restrict_representation",
]


def is_subgroup(subgroup: object, group: PointGroup) -> bool:
    """Whether every element of ``subgroup`` is an element of ``group`` (the same rotation and mirror)."""
    if not isinstance(subgroup, PointGroup):
        return False
    if group.spatial_dims == 3 or subgroup.spatial_dims == 3:  # Trivial() < Octahedral() < FullOctahedral()
        return (
            subgroup.order == 1
            or subgroup == group
            or (subgroup.spatial_dims == 3 and not subgroup.has_reflections and group.spatial_dims == 3)
        )
    if subgroup.has_reflections and not group.has_reflections:
        return False
    if subgroup.is_continuous:  # SO2 in O2, of the same band limit and sample
        return group.is_continuous and (subgroup.max_frequency, subgroup.N) == (  # type: ignore[attr-defined]
            group.max_frequency,  # type: ignore[attr-defined]
            group.N,
        )
    return group.is_continuous or group.N % subgroup.N == 0


def check_subgroup(name: str, subgroup: object, group: PointGroup) -> PointGroup:
    """``subgroup``, or a ``TypeError``/``ValueError`` naming ``name`` and the subgroups ``group`` has."""
    if not isinstance(subgroup, PointGroup):
        raise TypeError(f"`{name}` must be an eqcnn group (e.g. Cyclic(M) with M dividing {group.N}), got {subgroup!r}")
    if not is_subgroup(subgroup, group) and 3 in (group.spatial_dims, subgroup.spatial_dims):
        if group.order == 1:
            raise ValueError(f"`{name}` (={subgroup!r}) is not a subgroup of {group!r}, which has one element")
        which = "Octahedral() and Trivial()" if group.has_reflections else "Trivial()"
        why = "groups of space and of the plane do not mix" if subgroup.spatial_dims != 3 else "it is larger"
        raise ValueError(
            f"`{name}` (={subgroup!r}) is not a subgroup of {group!r}: {why}; the proper subgroups eqcnn has are "
            f"{which}"
        )
    if not is_subgroup(subgroup, group):
        kinds = "Cyclic(M) or Dihedral(M)" if group.has_reflections else "Cyclic(M)"
        if subgroup.has_reflections and not group.has_reflections:
            why = f"{subgroup!r} has reflections and {group!r} has none"
        elif subgroup.is_continuous:
            why = "a continuous subgroup must have the same max_frequency and samples"
        else:
            why = f"{subgroup.N} does not divide {group.N}"
        which = (
            f"{kinds} for any M, and Trivial()"
            + (" and the SO2 of the same band limit" if group.has_reflections else "")
            if group.is_continuous
            else f"{kinds} with M dividing {group.N}, and Trivial()"
        )
        raise ValueError(f"`{name}` (={subgroup!r}) is not a subgroup of {group!r}: {why}; the subgroups are {which}")
    return subgroup


@lru_cache(maxsize=256)
def embedding(group: PointGroup, subgroup: PointGroup) -> np.ndarray:
    """For each element of ``subgroup`` (in its order), the index of the same element in ``group.elements``."""
    check_subgroup("subgroup", subgroup, group)
    if group.spatial_dims == 3:  # O's elements are O_h's first 24, in the same order; Trivial's is the identity
        out = np.arange(subgroup.order, dtype=np.int64)
        out.setflags(write=False)
        return out
    if group.N % subgroup.N:
        raise ValueError(
            f"{subgroup!r} is a subgroup of {group!r}, but not of its sampled elements (N={group.N}): no index "
            "embedding; use embed(group, h) for its elements"
        )
    step = group.N // subgroup.N
    out = np.array([h.rotation * step + group.N * int(h.reflection) for h in subgroup.elements], dtype=np.int64)
    out.setflags(write=False)
    return out


def embed(group: PointGroup, h: GroupElement) -> GroupElement:
    """The element of ``group`` equal to ``h`` (an element of a subgroup of ``group``)."""
    if not isinstance(h, GroupElement):
        raise TypeError(f"`h` must be a group element, got {h!r}")
    check_subgroup("h.group", h.group, group)
    if h.group == group:
        return h
    if group.spatial_dims == 3:
        return group.elements[h.index]
    rotation = h.rotation * group.N / h.group.N
    return GroupElement(group, group._wrap(rotation), h.reflection)


@lru_cache(maxsize=256)
def quotient_representation(group: PointGroup, subgroup: PointGroup) -> Representation:
    """``group`` permuting the left cosets ``g H`` of ``H = subgroup``: ``rho(g) e_{cH} = e_{gcH}``.

    The cosets are ordered by their first element in ``group.elements``; for
    ``C_N / C_M`` that is ``r^0 H, r^1 H, ..., r^(N/M - 1) H``.  The quotient by
    the trivial group is the regular representation, by the whole group the
    trivial one.
    """
    check_subgroup("subgroup", subgroup, group)
    if group.is_continuous:
        raise ValueError(f"quotient representations of {group!r} are not supported (only of Cyclic(N), Dihedral(N))")
    if subgroup.order == 1:
        return group.regular_representation
    if subgroup.order == group.order:
        return group.trivial_representation
    members = set(embedding(group, subgroup).tolist())
    coset_of = np.full(group.order, -1)
    n_cosets = 0
    for g in group.elements:  # in order: each new coset is numbered by its first element
        if coset_of[g.index] >= 0:
            continue
        for h in members:
            coset_of[(g @ group.elements[h]).index] = n_cosets
        n_cosets += 1
    reps = [int(np.flatnonzero(coset_of == c)[0]) for c in range(n_cosets)]
    mats = np.zeros((group.order, n_cosets, n_cosets))
    for g in group.elements:
        for c, r in enumerate(reps):
            mats[g.index, coset_of[(g @ group.elements[r]).index], c] = 1.0
    return Representation(group, f"quotient({subgroup!r})", mats)


@lru_cache(maxsize=1024)
def restrict_representation(rep: Representation, subgroup: PointGroup) -> Representation:
    """``rep`` seen by ``subgroup``: the same matrices at the subgroup's elements (no change of basis).

    Named ``restrict(<rep>, <subgroup>)``; :func:`decompose` turns it into the
    subgroup's own representations when a signed permutation of the channels does.
    """
    if not isinstance(rep, Representation):
        raise TypeError(f"`rep` must be a Representation, got {type(rep).__name__}")
    group = rep.group
    if subgroup == group:
        return rep
    check_subgroup("subgroup", subgroup, group)
    mats = np.stack([rep(embed(group, h)) for h in subgroup.elements])
    if rep.size == 1 and np.all(mats == 1):  # e.g. the sign of a reflection, seen by the rotations
        return trivial_representation(subgroup)
    function = (lambda h: rep(embed(group, h))) if subgroup.is_continuous else None  # (O2 -> SO2: any angle)
    rebuild = (restrict_representation, (rep, subgroup)) if function is not None else None
    return Representation(subgroup, f"restrict({rep!r}, {subgroup!r})", mats, function=function, rebuild=rebuild)


class Decomposition:
    """A representation split into named ones by a signed permutation of its channels.

    ``parts`` are the representations, in order; channel ``i`` of their direct
    sum is ``signs[i] * x[perm[i]]`` for a vector ``x`` of the original one.
    ``is_view`` when the permutation is the identity and no sign flips.
    """

    def __init__(self, parts: list[Representation], perm: np.ndarray, signs: np.ndarray) -> None:
        self.parts = parts
        self.perm = perm
        self.signs = signs

    @property
    def is_view(self) -> bool:
        return bool(np.array_equal(self.perm, np.arange(len(self.perm))) and np.all(self.signs == 1))


def _named_representations(group: PointGroup) -> list[Representation]:
    """The representations a decomposition may use: trivial, the irreps, regular, the quotients."""
    if group.is_continuous:
        return [trivial_representation(group), *group.irreps()[1:]]
    out = [trivial_representation(group), *all_irreps(group)[1:], regular_representation(group)]
    for sub in _proper_subgroups(group):
        out.append(quotient_representation(group, sub))
    return out


def _proper_subgroups(group: PointGroup) -> list[PointGroup]:
    from ._group import Cyclic, Dihedral
    from ._octahedral import Octahedral

    if group.spatial_dims == 3:
        return [Octahedral()] if group.has_reflections else []

    subs: list[PointGroup] = []
    for m in range(1, group.N + 1):
        if group.N % m:
            continue
        if m > 1:
            subs.append(Cyclic(m))
        if group.has_reflections:
            subs.append(Dihedral(m))
    return [s for s in subs if 1 < s.order < group.order]


@lru_cache(maxsize=1024)
def decompose(rep: Representation) -> Decomposition | None:
    """Split ``rep`` into its group's named representations by a signed permutation, or ``None``.

    A permutation representation splits into its orbits of channels, each
    matched to the regular or a quotient representation (channel ``c H`` of
    the quotient is the orbit's base channel moved by ``c``).  Any other
    splits into its blocks (channels the matrices never mix), each matched to
    an irrep, up to the sign of its second channel.  ``None`` when a part
    matches nothing (then the representation stays as it is).
    """
    if rep.is_trivial:
        return Decomposition([rep], np.arange(1), np.ones(1))
    if rep.is_permutation:
        return _decompose_permutation(rep)
    return _decompose_blocks(rep)


def _decompose_permutation(rep: Representation) -> Decomposition | None:
    group = rep.group
    images = np.stack([m.argmax(axis=0) for m in rep.matrices])  # images[g, j]: rho(g) e_j = e_images[g, j]
    quotients: dict[int, list[Representation]] = {}
    for q in _named_representations(group):
        if q.is_permutation and not q.is_trivial:
            quotients.setdefault(q.size, []).append(q)
    parts: list[Representation] = []
    perm: list[int] = []
    seen = np.zeros(rep.size, dtype=bool)
    for c in range(rep.size):
        if seen[c]:
            continue
        orbit = sorted(set(images[:, c].tolist()))
        seen[orbit] = True
        if len(orbit) == 1:
            parts.append(trivial_representation(group))
            perm.append(c)
            continue
        found = None
        for q in quotients.get(len(orbit), []):
            q_images = np.stack([m.argmax(axis=0) for m in q.matrices])  # coset c -> g c
            for base in orbit:  # a base channel whose stabiliser is the quotient's subgroup
                # channel of coset j: the base moved by a representative of coset j
                reps_of = [int(np.flatnonzero(q_images[:, 0] == j)[0]) for j in range(q.size)]
                chans = [int(images[g, base]) for g in reps_of]
                if len(set(chans)) == q.size and all(
                    np.array_equal(images[g, chans], np.array(chans)[q_images[g]]) for g in range(group.order)
                ):
                    found = (q, chans)
                    break
            if found:
                break
        if found is None:
            return None
        parts.append(found[0])
        perm.extend(found[1])
    return Decomposition(parts, np.array(perm), np.ones(len(perm)))


def _decompose_blocks(rep: Representation) -> Decomposition | None:
    group = rep.group
    pattern = np.any(rep.matrices != 0, axis=0)
    pattern = pattern | pattern.T
    irreps = [trivial_representation(group), *all_irreps(group)[1:]]
    flip = np.diag([1.0, -1.0])
    parts: list[Representation] = []
    perm: list[int] = []
    signs: list[float] = []
    seen = np.zeros(rep.size, dtype=bool)
    for c in range(rep.size):
        if seen[c]:
            continue
        block = np.flatnonzero(pattern[c])
        largest = 3 if group.spatial_dims == 3 else 2  # (the octahedral groups have 3-D irreps)
        if len(block) > largest or any(not set(np.flatnonzero(pattern[b])) <= set(block.tolist()) for b in block):
            return None  # a block of more channels than an irrep has
        seen[block] = True
        sub = rep.matrices[:, block][:, :, block]
        match = None
        for r in irreps:
            if r.size != len(block):
                continue
            if np.allclose(sub, r.matrices, atol=1e-9):
                match = (r, [1.0] * r.size)
            elif r.size == 2 and np.allclose(flip @ sub @ flip, r.matrices, atol=1e-9):
                match = (r, [1.0, -1.0])
            if match:
                break
        if match is None:
            return None
        parts.append(match[0])
        perm.extend(int(b) for b in block)
        signs.extend(match[1])
    return Decomposition(parts, np.array(perm), np.array(signs))
