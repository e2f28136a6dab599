"""Small helpers shared by the layers: argument checks on field types and
per-channel bookkeeping (which field each channel belongs to)."""

from __future__ import annotations

from typing import Any

from ..fields import FieldType

__all__ = [
    "channel_fields",
    "check_conv_groups",
    "check_dims",
    "check_field_type",
    "check_same_group",
    "no_filter_message",
    "require_permutation",
]


def check_field_type(name: str, value: Any) -> FieldType:
    if not isinstance(value, FieldType):
        raise TypeError(f"`{name}` must be an eqcnn FieldType (e.g. G.regular(8)), got {type(value).__name__}")
    return value


def check_dims(layer: str, t: FieldType, dims: int, name: str = "in_type") -> None:
    """A layer of ``dims`` spatial dimensions refuses a type whose group acts on another space."""
    have = t.group.spatial_dims
    if have is None or have == dims:
        return
    if dims == 2:
        twins = ("Conv2d", "ConvTranspose2d", "BatchNorm2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
                 "AdaptiveMaxPool2d")  # fmt: skip
        advice = f"use {layer[:-2]}3d" if layer in twins else f"{layer} has no 3-D version"
        raise ValueError(
            f"`{name}` of {layer} must be over a planar group (Trivial, Cyclic, Dihedral, SO2, O2): {layer} takes "
            f"images, but {t.group!r} acts on volumes; {advice}"
        )
    other = layer[:-2] + "2d" if layer.endswith("3d") else "the 2D layers"
    raise ValueError(
        f"`{name}` of {layer} must be over a group of space (Trivial, Octahedral, FullOctahedral): {layer} takes "
        f"volumes, but {t.group!r} acts on the plane; use {other}"
    )


def check_same_group(a: FieldType, b: FieldType, names: tuple[str, str] = ("in_type", "out_type")) -> None:
    if a.group != b.group:
        raise ValueError(f"`{names[0]}` and `{names[1]}` must have the same group, got {a.group!r} and {b.group!r}")


def check_conv_groups(groups: Any, in_type: FieldType, out_type: FieldType) -> int:
    """``groups`` of a convolution: 1 for equivariant ones; for ``Trivial()``, torch's rule (it divides both sizes)."""
    from .._checks import check_int

    groups = check_int("groups", groups, minimum=1)
    group = in_type.group
    if groups != 1 and group.order > 1:
        raise ValueError(
            f"`groups` (={groups}) must be 1 for {group!r}: grouped equivariant convolutions are not "
            "supported (they are for Trivial(), as in torch)"
        )
    for name, size in (("in_type", in_type.size), ("out_type", out_type.size)):
        if size % groups:
            raise ValueError(f"`{name}.size` (={size}) must be divisible by `groups` (={groups})")
    return groups


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


def no_filter_message(in_type: FieldType, out_type: FieldType, kernel: tuple[int, ...], kind: str) -> str:
    """Why no equivariant filter maps ``in_type`` to ``out_type``, and the smallest kernel size that has one."""
    from ..kernels import kernel_basis

    msg = f"no equivariant {'x'.join(str(k) for k in kernel)} filter maps {in_type!r} to {out_type!r}"
    if len(kernel) == 3:
        pairs = {(a, b) for a in in_type.representations for b in out_type.representations}
        for k in range(kernel[0] + 2, 10, 2):
            if any(kernel_basis(a, b, k, "pixel").dim for a, b in pairs):
                return msg + f"; the smallest kernel_size that holds one is {k}"
        return msg + " (the fields' representations admit no equivariant linear map between them at any size)"
    if kernel[0] == 1:
        return msg + " (a 1x1 filter must commute with the group action; use kernel_size >= 3)"
    if kind == "pixel":
        return msg
    pairs = {(a, b) for a in in_type.representations for b in out_type.representations}
    for k in range(kernel[0] + 2, 16, 2):
        if any(kernel_basis(a, b, k, kind).dim for a, b in pairs):  # type: ignore[arg-type]
            return (
                msg + f": a {kernel[0]}x{kernel[0]} filter's rings hold too low angular frequencies for these "
                f"fields; the smallest kernel_size that holds one is {k}"
            )
    return msg
