"""Field types, group elements and tensors to and from escnn.

eqcnn and escnn agree on conventions (see docs/interop.md): a group's elements
are listed rotations first, then the reflected ones, and eqcnn's
``group.element(k, f)`` is escnn's element ``(f, k)`` (``k`` for cyclic
groups); a regular field's channels follow that order; the reflection is
``torch.flip(x, dims=[-1])``; irreps have the same indices and matrices.  So
a tensor is the same memory in both libraries and only the types are
translated.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from ..fields import FieldType
from ..groups import Cyclic, Dihedral, GroupElement, PointGroup, Representation, Trivial

_INSTALL_HINT = "pip install 'eqcnn[escnn]' && pip install --no-deps escnn"


def _kind(obj: Any) -> str:
    """``obj``'s type named with its library, e.g. ``eqcnn FieldType`` or ``escnn FieldType``."""
    return f"{type(obj).__module__.split('.')[0]} {type(obj).__qualname__}"


def _import_escnn() -> Any:
    """Import escnn quietly (its missing-py3nj warning only concerns SO(3))."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*py3nj.*")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            import escnn
            import escnn.group
            import escnn.gspaces
            import escnn.nn
    except ImportError as err:
        raise ImportError(
            f"eqcnn.interop.escnn needs the optional escnn extra, which is not installed ({err}). "
            f"Install it with: {_INSTALL_HINT}"
        ) from err
    return escnn


escnn = _import_escnn()

__all__ = [
    "escnn_element",
    "from_escnn_type",
    "from_geometric_tensor",
    "gspace_of",
    "is_mappable",
    "to_escnn_element",
    "to_escnn_type",
    "to_geometric_tensor",
]

_GSPACES: dict[PointGroup, Any] = {}


def gspace_of(group: PointGroup) -> Any:
    """The escnn gspace acting like ``group`` on the plane (cached).

    ``Trivial()`` -> ``trivialOnR2()``, ``Cyclic(N)`` -> ``rot2dOnR2(N)``,
    ``Dihedral(N)`` -> ``flipRot2dOnR2(N)`` (its default mirror axis, which is
    eqcnn's ``torch.flip(x, dims=[-1])``), ``SO2(L)`` -> ``rot2dOnR2(-1, 2 L + 2)``
    and ``O2(L)`` -> ``flipRot2dOnR2(-1, 2 L + 2)`` (escnn needs the irreps up to
    ``2 L`` to build filters between fields of band limit L).
    """
    if not isinstance(group, PointGroup):
        raise TypeError(f"`group` must be an eqcnn group (Trivial, Cyclic, Dihedral), got {group!r}")
    if group not in _GSPACES:
        gs = escnn.gspaces
        if group.is_continuous:  # SO2 / O2: escnn's N = -1
            # escnn builds filters between band-limited fields from the irreps of their tensor products,
            # which reach 2 L: its gspace must hold them (else R2Conv raises InsufficientIrrepsException)
            L = group.max_frequency  # type: ignore[attr-defined]
            make = gs.flipRot2dOnR2 if group.has_reflections else gs.rot2dOnR2
            _GSPACES[group] = make(-1, maximum_frequency=2 * L + 2)
        elif group.has_reflections:
            _GSPACES[group] = gs.flipRot2dOnR2(group.N)
        elif group.N == 1:
            _GSPACES[group] = gs.trivialOnR2()
        else:
            _GSPACES[group] = gs.rot2dOnR2(group.N)
    return _GSPACES[group]


def _group_of_gspace(gspace: Any) -> PointGroup | None:
    """The eqcnn group whose standard escnn gspace is ``gspace``, or ``None``."""
    from escnn.group import O2 as EscnnO2
    from escnn.group import SO2 as EscnnSO2
    from escnn.group import CyclicGroup, DihedralGroup

    fg = gspace.fibergroup
    if isinstance(fg, (EscnnSO2, EscnnO2)):
        from ..groups import O2, SO2

        # escnn shares one SO(2) / O(2) instance and raises its band limit to the largest asked for, so the
        # group's own band limit is not the type's: a gspace eqcnn made maps back to the group it was made for
        for known, gs in _GSPACES.items():
            if known.is_continuous and gs is gspace:
                return known
        L = int(fg._maximum_frequency)
        continuous = (O2 if isinstance(fg, EscnnO2) else SO2)(L)
        return continuous if gspace_of(continuous) == gspace else None
    if isinstance(fg, CyclicGroup):
        n = fg.order()
        candidates: list[PointGroup] = [Trivial() if n == 1 else Cyclic(n)]
        if n == 2:
            candidates.append(Dihedral(1))  # escnn's flipRot2dOnR2(1) is the cyclic group of the mirror
    elif isinstance(fg, DihedralGroup):
        candidates = [Dihedral(fg.rotation_order)]
    else:
        return None  # SO(2), O(2), ...
    # only the standard action (e.g. not a mirror about another axis) maps
    for group in candidates:
        if gspace_of(group) == gspace:
            return group
    return None


def to_escnn_element(g: GroupElement) -> Any:
    """The escnn group element equal to the eqcnn element ``g``."""
    if not isinstance(g, GroupElement):
        raise TypeError(f"`g` must be an eqcnn GroupElement, got {_kind(g)}")
    fg = gspace_of(g.group).fibergroup
    if g.group.is_continuous:
        return fg.element((int(g.reflection), g.angle) if g.group.has_reflections else g.angle)
    if g.group == Dihedral(1):  # escnn: the cyclic group {identity, mirror}
        return fg.element(int(g.reflection))
    if g.group.has_reflections:
        return fg.element((int(g.reflection), g.rotation))
    return fg.element(g.rotation)


def _escnn_matrices(rep: Any, group: PointGroup) -> np.ndarray:
    """Matrices of an escnn representation of ``group``, in eqcnn's element order."""
    return np.stack([np.asarray(rep(to_escnn_element(g)), dtype=np.float64) for g in group.elements])


def _candidates(group: PointGroup) -> list[Representation]:
    if group.is_continuous:
        return [group.trivial_representation, group.bl_regular_representation, *group.irreps()]  # type: ignore[attr-defined]
    return [group.trivial_representation, group.regular_representation, *group.irreps()]


_FROM_CACHE: dict[tuple[PointGroup, str], Representation | None] = {}
_TO_CACHE: dict[Representation, Any] = {}  # eqcnn copies of other escnn representations -> the escnn ones


def _rep_from_escnn(rep: Any, group: PointGroup) -> Representation | None:
    """eqcnn's trivial, regular or irreducible representation equal to ``rep``; else an eqcnn
    copy of ``rep`` named ``escnn:<name>`` when it is orthogonal; else ``None``."""
    key = (group, rep.name)
    if key not in _FROM_CACHE and group.is_continuous:
        _FROM_CACHE[key] = _continuous_rep_from_escnn(rep, group)
    if key not in _FROM_CACHE:
        mats = _escnn_matrices(rep, group)
        match = None
        for cand in _candidates(group):
            if cand.size == rep.size and np.allclose(cand.matrices, mats, atol=1e-9):
                match = cand
                break
        if match is None and np.allclose(mats @ mats.transpose(0, 2, 1), np.eye(rep.size), atol=1e-9):
            exact = np.where(np.abs(mats - np.round(mats)) < 1e-12, np.round(mats), mats)
            match = Representation(group, f"escnn:{rep.name}", exact)
            _TO_CACHE[match] = rep
        _FROM_CACHE[key] = match
    return _FROM_CACHE[key]


def _continuous_rep_from_escnn(rep: Any, group: PointGroup) -> Representation | None:
    """An escnn representation of SO(2) / O(2) as eqcnn's, matched at every angle, not on the sample alone.

    Its irreps (escnn's ``rep.irreps``) must all be within the group's band limit (else ``None``). Then
    eqcnn's trivial, ``bl_regular`` or irrep of the same matrices, or the direct sum of its irreps
    (``escnn:<name>``) when escnn's change of basis is the identity, or else a copy that evaluates
    escnn's matrix at any angle.
    """
    L = group.max_frequency  # type: ignore[attr-defined]
    ids = [tuple(i) if isinstance(i, tuple) else (i,) for i in rep.irreps]
    if any(i[-1] > L for i in ids):
        return None
    probe = [*group.elements, *(group.element_at(d, f and group.has_reflections)  # type: ignore[attr-defined]
                                for d in (13.7, 101.3, 257.9) for f in (False, True))]  # fmt: skip
    mats = np.stack([np.asarray(rep(to_escnn_element(g)), dtype=np.float64) for g in probe])

    def same(cand: Representation) -> bool:
        return cand.size == rep.size and np.allclose(np.stack([cand(g) for g in probe]), mats, atol=1e-9)

    for cand in _candidates(group):
        if same(cand):
            return cand
    from ..groups import direct_sum

    try:
        parts = [group.irrep(*i) for i in ids]
    except ValueError:
        return None
    if np.allclose(np.asarray(rep.change_of_basis), np.eye(rep.size), atol=1e-12):
        summed = direct_sum(parts, name=f"escnn:{rep.name}")
        if same(summed):
            _TO_CACHE[summed] = rep
            return summed
    copy = Representation(
        group,
        f"escnn:{rep.name}",
        mats[: len(group.elements)],
        function=lambda g: np.asarray(rep(to_escnn_element(g)), dtype=np.float64),
    )
    _TO_CACHE[copy] = rep
    return copy


def _rep_to_escnn(rep: Representation, gspace: Any) -> Any:
    group = rep.group
    if rep.name == "trivial":
        return gspace.trivial_repr
    if rep.name == "regular":
        return gspace.regular_repr
    if rep.name == "bl_regular":
        out = gspace.fibergroup.bl_regular_representation(group.max_frequency)  # type: ignore[attr-defined]
        if _rep_from_escnn(out, group) != rep:
            raise ValueError(f"escnn's bl_regular of {group!r} does not match eqcnn's {rep!r}")
        return out
    if rep.name.startswith("irrep("):
        idx = tuple(int(i) for i in rep.name[len("irrep(") : -1].split(","))
        out = gspace.fibergroup.irrep(*(idx[:1] if group == Dihedral(1) else idx))
        if _rep_from_escnn(out, group) != rep:  # guards against a convention drift between the libraries
            raise ValueError(f"escnn's irrep{idx} of {group!r} does not match eqcnn's {rep!r}")
        return out
    if rep in _TO_CACHE:
        return _TO_CACHE[rep]
    raise ValueError(
        f"representation {rep!r} has no escnn counterpart: only trivial, regular and irreducible "
        "representations (and those that came from escnn) are converted"
    )


def to_escnn_type(field_type: FieldType) -> Any:
    """The escnn ``FieldType`` with the same group action, fields and channel order.

    Example:
        >>> import eqcnn
        >>> from eqcnn.interop.escnn import to_escnn_type
        >>> to_escnn_type(eqcnn.Cyclic(8).regular(2)).size
        16
    """
    if not isinstance(field_type, FieldType):
        hint = " (from_escnn_type converts escnn types)" if isinstance(field_type, escnn.nn.FieldType) else ""
        raise TypeError(f"`field_type` must be an eqcnn FieldType, got {_kind(field_type)}{hint}")
    gspace = gspace_of(field_type.group)
    reps = [_rep_to_escnn(r, gspace) for r in field_type.representations]
    return escnn.nn.FieldType(gspace, reps)


def is_mappable(escnn_type: Any) -> bool:
    """Whether :func:`from_escnn_type` can translate ``escnn_type``."""
    group = _group_of_gspace(escnn_type.gspace)
    return group is not None and all(_rep_from_escnn(r, group) is not None for r in escnn_type.representations)


def from_escnn_type(escnn_type: Any, group: PointGroup | None = None) -> FieldType:
    """The eqcnn ``FieldType`` equal to an escnn one over ``rot2dOnR2(N)``, ``flipRot2dOnR2(N)`` or ``trivialOnR2()``.

    Trivial, regular and irreducible fields become eqcnn's own representations
    (matched by their matrices); any other orthogonal escnn representation
    (quotient, restricted...) becomes an eqcnn ``Representation`` named
    ``escnn:<name>`` with escnn's matrices, which converts back.  SO(2) and O(2)
    types become types of ``SO2(L)`` / ``O2(L)`` with escnn's band limit L (its
    gspace's ``maximum_frequency``), or of ``group`` when it is given: an eqcnn
    ``SO2`` / ``O2`` whose band limit holds the type's irreps (an escnn model's
    gspace often allows higher frequencies than its fields use).  Raises
    ``ValueError`` for gspaces eqcnn has no group for, e.g. a mirror about another
    axis (wrap those with :class:`EscnnFieldType`).

    Example:
        >>> import eqcnn
        >>> from eqcnn.interop.escnn import from_escnn_type, to_escnn_type
        >>> t = eqcnn.Dihedral(4).regular(2) + eqcnn.Dihedral(4).irreps_field(1, 1)
        >>> from_escnn_type(to_escnn_type(t)) == t
        True
    """
    if not isinstance(escnn_type, escnn.nn.FieldType):
        hint = " (to_escnn_type converts eqcnn types)" if isinstance(escnn_type, FieldType) else ""
        raise TypeError(f"`escnn_type` must be an escnn.nn.FieldType, got {_kind(escnn_type)}{hint}")
    own = _group_of_gspace(escnn_type.gspace)
    if group is not None and own is not None and group != own:
        if not (own.is_continuous and group.is_continuous and own.has_reflections == group.has_reflections):
            raise ValueError(f"`group` (={group!r}) is not the group of the escnn type ({own!r})")
        own = group  # the same continuous group at another band limit: the irreps are matched below
    group = own
    if group is None:
        raise ValueError(
            f"escnn gspace {escnn_type.gspace.name} has no eqcnn group: only trivialOnR2(), rot2dOnR2(N) and "
            "flipRot2dOnR2(N) (default axis) map; wrap other types with EscnnFieldType"
        )
    reps = []
    for i, r in enumerate(escnn_type.representations):
        mine = _rep_from_escnn(r, group)
        if mine is None:
            raise ValueError(
                f"field {i} of the escnn type ({r.name}) is not an orthogonal representation of {group!r}"
                + (" within its band limit" if group.is_continuous else "")
                + "; "
                "wrap the type with EscnnFieldType"
            )
        reps.append(mine)
    return FieldType(group, reps)


def _as_escnn_type(field_type: Any) -> Any:
    from ._escnn_module import EscnnFieldType

    if isinstance(field_type, FieldType):
        return to_escnn_type(field_type)
    if isinstance(field_type, EscnnFieldType):
        return field_type.escnn_type
    if isinstance(field_type, escnn.nn.FieldType):
        return field_type
    raise TypeError(f"`field_type` must be an eqcnn or escnn field type, got {_kind(field_type)}")


def to_geometric_tensor(x: torch.Tensor, field_type: Any) -> Any:
    """Wrap ``x`` (``(B, size, H, W)``) as an escnn ``GeometricTensor`` without copying it.

    ``field_type`` is an eqcnn ``FieldType``, an :class:`EscnnFieldType` or an
    escnn ``FieldType``.  The result's ``.tensor`` is ``x`` itself.
    """
    from .._checks import check_tensor

    t = _as_escnn_type(field_type)
    check_tensor(x, t.size, "to_geometric_tensor")
    if x.dim() != 4:
        raise ValueError(f"to_geometric_tensor: escnn needs a batched tensor (B, C, H, W), got shape {tuple(x.shape)}")
    return escnn.nn.GeometricTensor(x, t)


def from_geometric_tensor(gt: Any) -> torch.Tensor:
    """The plain tensor inside an escnn ``GeometricTensor`` (the same memory, no copy)."""
    if not isinstance(gt, escnn.nn.GeometricTensor):
        raise TypeError(f"`gt` must be an escnn GeometricTensor, got {_kind(gt)}")
    return gt.tensor


def escnn_element(group: Any, angle: float, reflection: bool = False) -> Any:
    """The element of an escnn planar group (C_N, D_N, SO(2), O(2)) turning by ``angle`` radians."""
    from escnn.group import O2, SO2, CyclicGroup, DihedralGroup

    if reflection and isinstance(group, (CyclicGroup, SO2)):
        raise ValueError(f"`reflection`=True needs a group with reflections; escnn's {group.name} has none")
    if isinstance(group, (SO2, O2)):
        return group.element((int(reflection), angle) if isinstance(group, O2) else angle)
    if isinstance(group, (CyclicGroup, DihedralGroup)):
        n = group.rotation_order if isinstance(group, DihedralGroup) else group.order()
        steps = angle * n / (2 * math.pi)
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"`angle` (={angle}) must be a multiple of 2 pi / {n} for escnn's {group.name}")
        k = round(steps) % n
        return group.element((int(reflection), k) if isinstance(group, DihedralGroup) else k)
    raise ValueError(f"escnn group {group.name} is not a planar point group (C_N, D_N, SO(2), O(2))")
