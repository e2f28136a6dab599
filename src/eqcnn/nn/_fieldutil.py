"""Small helpers shared by the layers: argument checks on field types and
per-channel bookkeeping (which field each channel belongs to)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..fields import FieldType

__all__ = ["channel_fields", "check_field_type", "check_same_group", "invariant_projector", "require_permutation"]


def check_field_type(name: str, value: Any) -> FieldType:
    if not isinstance(value, FieldType):
        raise TypeError(f"`{name}` must be an eqcnn FieldType (e.g. G.regular(8)), got {type(value).__name__}")
    # FieldType.size is a cached_property: compute it now, because its first computation takes a lock
    # that torch.compile cannot trace (it would break the graph inside forward).
    _ = value.size
    return value


def check_same_group(a: FieldType, b: FieldType, names: tuple[str, str] = ("in_type", "out_type")) -> None:
    if a.group != b.group:
        raise ValueError(f"`{names[0]}` and `{names[1]}` must have the same group, got {a.group!r} and {b.group!r}")


def require_permutation(t: FieldType, layer: str, advice: str) -> None:
    """Raise unless every field of ``t`` transforms by permuting its channels."""
    for i, rep in enumerate(t.representations):
        if not rep.is_permutation:
            raise ValueError(
                f"{layer} acts on each channel separately, which is equivariant only for fields whose "
                f"representation permutes channels (trivial, regular); field {i} of `in_type` is {rep!r}; {advice}"
            )


def channel_fields(t: FieldType) -> list[int]:
    """The field index of every channel of ``t``."""
    out: list[int] = []
    for f, rep in enumerate(t.representations):
        out.extend([f] * rep.size)
    return out


def invariant_projector(t: FieldType) -> np.ndarray:
    """Block-diagonal ``size x size`` orthogonal projector onto the invariant vectors of each field."""
    basis = t.invariant_basis
    if basis.size == 0:
        return np.zeros((t.size, t.size))
    q, _ = np.linalg.qr(basis)
    return q @ q.T


def as_buffer(values: Any, dtype: torch.dtype | None = None, device: Any = None) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values), dtype=dtype, device=device)
