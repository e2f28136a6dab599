"""Hypothesis strategies for eqcnn: groups, field types, convolution configurations and input sizes.

They generate *valid combinations* only (odd kernels for non-trivial groups,
sizes large enough for the kernel, sizes for which a strided layer samples a
symmetric grid when exactness is wanted), so a property test needs no
``assume``.  Importing this module needs ``hypothesis`` (the ``test`` extra).

Example:
    >>> from hypothesis import given, settings
    >>> from eqcnn.testing import strategies as est
    >>> @settings(max_examples=5)
    ... @given(est.groups(max_n=4))
    ... def test_order(G):
    ...     assert len(G.elements) == G.order
    >>> test_order()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from .._checks import check_choice, check_int, check_ints
from ..fields import FieldType
from ..groups import O2, SO2, Cyclic, Dihedral, FullOctahedral, Octahedral, PointGroup, Trivial

__all__ = [
    "ConvCase",
    "ConvConfig",
    "conv_cases",
    "conv_configs",
    "field_types",
    "groups",
    "input_sizes",
    "representations",
]


def _names(name: str, value: Any, choices: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty sequence of names from ``choices`` (one name alone is accepted too)."""
    if isinstance(value, str):
        value = (value,)
    if not hasattr(value, "__iter__"):
        raise TypeError(f"`{name}` must be a sequence of names from {', '.join(map(repr, choices))}, got {value!r}")
    out = tuple(check_choice(f"{name}[{i}]", v, choices) for i, v in enumerate(value))
    if not out:
        raise ValueError(f"`{name}` must name at least one of {', '.join(map(repr, choices))}, got {value!r}")
    return out


def _some_ints(name: str, value: Any, minimum: int) -> tuple[int, ...]:
    out = check_ints(name, value, minimum=minimum)
    if not out:
        raise ValueError(f"`{name}` must hold at least one int, got {value!r}")
    return out


def _check_group(group: Any) -> PointGroup:
    if not isinstance(group, PointGroup):
        raise TypeError(f"`group` must be an eqcnn group (Trivial(), Cyclic(N), Dihedral(N)), got {group!r}")
    return group


_KINDS = ("trivial", "regular", "irrep", "quotient", "bl_regular")
_FAMILIES = ("trivial", "cyclic", "dihedral", "so2", "o2", "octahedral", "full_octahedral")


def groups(
    families: Sequence[str] = ("trivial", "cyclic", "dihedral"),
    min_n: int = 1,
    max_n: int = 8,
    grid_symmetric: bool = False,
    max_frequency: int = 3,
) -> st.SearchStrategy[PointGroup]:
    """Trivial(), Cyclic(N) and Dihedral(N) for ``min_n <= N <= max_n``; ``"so2"`` and ``"o2"`` add
    ``SO2(L)`` and ``O2(L)`` for ``1 <= L <= max_frequency``; ``"octahedral"`` and ``"full_octahedral"``
    the groups of space ``Octahedral()`` and ``FullOctahedral()`` (for volumes: every element exact).

    ``grid_symmetric=True`` keeps the groups whose every element maps the
    pixel grid onto itself (N in 1, 2, 4), where every element is exact (no
    continuous group).
    """
    families = _names("families", families, _FAMILIES)
    check_int("max_frequency", max_frequency, minimum=1)
    min_n, max_n = check_int("min_n", min_n, minimum=1), check_int("max_n", max_n, minimum=1)
    if min_n > max_n:
        raise ValueError(f"`min_n` (={min_n}) must be at most `max_n` (={max_n})")
    ns = [n for n in range(max(1, min_n), max_n + 1) if not grid_symmetric or n in (1, 2, 4)]
    options: list[st.SearchStrategy[PointGroup]] = []
    if "trivial" in families:
        options.append(st.just(Trivial()))
    if "cyclic" in families:
        options.append(st.sampled_from([Cyclic(n) for n in ns if n > 1]) if any(n > 1 for n in ns) else st.nothing())
    if "dihedral" in families and ns:
        options.append(st.sampled_from([Dihedral(n) for n in ns]))
    for name, group in (("octahedral", Octahedral()), ("full_octahedral", FullOctahedral())):
        if name in families:
            options.append(st.just(group))
    for name, make in (("so2", SO2), ("o2", O2)):
        if name in families and not grid_symmetric:
            options.append(st.sampled_from([make(L) for L in range(1, max_frequency + 1)]))
    if not options and grid_symmetric and set(families) <= {"so2", "o2"}:
        raise ValueError(f"`grid_symmetric=True` keeps no continuous group, and `families` names only {families!r}")
    if not options:
        raise ValueError(f"`families` must name at least one of {', '.join(map(repr, _FAMILIES))}, got {families!r}")
    return st.one_of(*options)


def representations(
    group: PointGroup, kinds: Sequence[str] = ("trivial", "regular", "irrep")
) -> st.SearchStrategy[Any]:
    """A representation of ``group``: trivial, regular, one of its irreps, a quotient (``G / H`` for a
    proper subgroup ``H``) or the band-limited regular-like one of a continuous group.

    A kind the group does not have is skipped (no regular or quotient representation for SO2 / O2,
    no ``bl_regular`` for a finite group); at least one of ``kinds`` must apply.
    """
    from ..groups._subgroup import _proper_subgroups

    _check_group(group)
    kinds = _names("kinds", kinds, _KINDS)
    reps = []
    if "trivial" in kinds:
        reps.append(group.trivial_representation)
    if "regular" in kinds and not group.is_continuous:
        reps.append(group.regular_representation)
    if "irrep" in kinds:
        reps += group.irreps()
    if "quotient" in kinds and not group.is_continuous:
        reps += [group.quotient_representation(h) for h in _proper_subgroups(group)]
    if "bl_regular" in kinds and group.is_continuous:
        reps.append(group.bl_regular_representation)  # type: ignore[attr-defined]
    if not reps:
        raise ValueError(f"none of `kinds` ({', '.join(kinds)}) applies to {group!r}")
    return st.sampled_from(reps)


def field_types(
    group: PointGroup,
    kinds: Sequence[str] = ("trivial", "regular", "irrep"),
    min_fields: int = 1,
    max_fields: int = 3,
    max_channels: int = 32,
) -> st.SearchStrategy[FieldType]:
    """A FieldType of ``group`` with ``min_fields`` to ``max_fields`` fields of the given kinds."""
    _check_group(group)
    kinds = _names("kinds", kinds, _KINDS)
    min_fields, max_fields = check_int("min_fields", min_fields, minimum=0), check_int("max_fields", max_fields)
    if max_fields < min_fields:
        raise ValueError(f"`max_fields` (={max_fields}) must be at least `min_fields` (={min_fields})")
    check_int("max_channels", max_channels, minimum=1)

    @st.composite
    def build(draw: Any) -> FieldType:
        n = draw(st.integers(min_fields, max_fields))
        reps: list[Any] = []
        for _ in range(n):
            r = draw(representations(group, kinds))
            if sum(q.size for q in reps) + r.size > max_channels and reps:
                break
            reps.append(r)
        return FieldType(group, reps)

    return build()


@dataclass(frozen=True)
class ConvConfig:
    """Spatial arguments of a convolution; ``kwargs()`` passes them to a Conv2d."""

    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    padding_mode: str = "zeros"

    @property
    def extent(self) -> int:
        """The dilated kernel size ``d (k - 1) + 1``."""
        return self.dilation * (self.kernel_size - 1) + 1

    def output_size(self, n: int) -> int:
        return (n + 2 * self.padding - self.extent) // self.stride + 1

    def samples_symmetric_grid(self, n: int) -> bool:
        """Whether the sampled positions are symmetric about the centre: ``(n + 2p - d(k-1) - 1) % s == 0``."""
        return (n + 2 * self.padding - self.extent) % self.stride == 0

    def __post_init__(self) -> None:
        check_int("kernel_size", self.kernel_size, minimum=1)
        check_int("stride", self.stride, minimum=1)
        check_int("padding", self.padding, minimum=0)
        check_int("dilation", self.dilation, minimum=1)
        check_choice("padding_mode", self.padding_mode, ("zeros", "reflect", "replicate", "circular"))

    def kwargs(self) -> dict[str, Any]:
        return dict(
            kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
            dilation=self.dilation, padding_mode=self.padding_mode,
        )  # fmt: skip


def conv_configs(
    kernel_sizes: Sequence[int] = (1, 3, 5),
    dilations: Sequence[int] = (1, 2),
    strides: Sequence[int] = (1, 2),
    padding_modes: Sequence[str] = ("zeros", "circular", "reflect", "replicate"),
    same_padding: bool | None = None,
) -> st.SearchStrategy[ConvConfig]:
    """Convolution configurations: odd kernels, dilation, stride, padding and padding mode.

    Padding is ``'same'``-like (``d (k - 1) / 2``) or zero (``same_padding``
    forces one); non-zero padding modes always pad ``'same'``-like.
    """
    kernel_sizes = _some_ints("kernel_sizes", kernel_sizes, minimum=1)
    if not any(k % 2 == 1 for k in kernel_sizes):
        raise ValueError(f"`kernel_sizes` must include an odd size (only odd kernels are drawn), got {kernel_sizes}")
    dilations, strides = _some_ints("dilations", dilations, minimum=1), _some_ints("strides", strides, minimum=1)
    padding_modes = _names("padding_modes", padding_modes, ("zeros", "reflect", "replicate", "circular"))

    @st.composite
    def build(draw: Any) -> ConvConfig:
        k = draw(st.sampled_from([k for k in kernel_sizes if k % 2 == 1]))
        d = draw(st.sampled_from(list(dilations)))
        s = draw(st.sampled_from(list(strides)))
        mode = draw(st.sampled_from(list(padding_modes)))
        same = True if mode != "zeros" else (draw(st.booleans()) if same_padding is None else same_padding)
        return ConvConfig(k, s, d * (k - 1) // 2 if same else 0, d, mode)

    return build()


def input_sizes(
    config: ConvConfig,
    min_size: int = 5,
    max_size: int = 24,
    exact_rotations: bool = True,
    circular_shifts: bool = False,
) -> st.SearchStrategy[int]:
    """Image sizes (odd and even) that fit ``config``.

    ``exact_rotations``: the strided grid is symmetric, so rotations and flips
    can be exact.  ``circular_shifts``: with circular padding, the size is a
    multiple of the stride, so every shift by a multiple of the stride is exact.
    Both together need stride 1.  Reflect padding needs a size above the padding.
    """
    if not isinstance(config, ConvConfig):
        raise TypeError(f"`config` must be a ConvConfig (e.g. drawn from conv_configs()), got {config!r}")
    min_size, max_size = check_int("min_size", min_size, minimum=1), check_int("max_size", max_size, minimum=1)
    lo = max(min_size, config.extent - 2 * config.padding, config.padding + 1)
    ok = [
        n
        for n in range(lo, max_size + 1)
        if (not exact_rotations or config.samples_symmetric_grid(n))
        and (not circular_shifts or n % config.stride == 0)
        and config.output_size(n) >= 1
    ]
    if not ok:
        raise ValueError(f"no input size in [{min_size}, {max_size}] fits {config}")
    return st.sampled_from(ok)


@dataclass(frozen=True)
class ConvCase:
    """A full convolution test case: group, types, spatial configuration and input size."""

    group: PointGroup
    in_type: FieldType
    out_type: FieldType
    config: ConvConfig
    size: int


def conv_cases(
    group_strategy: st.SearchStrategy[PointGroup] | None = None,
    in_kinds: Sequence[str] = ("trivial", "regular", "irrep"),
    out_kinds: Sequence[str] = ("trivial", "regular", "irrep"),
    config_strategy: st.SearchStrategy[ConvConfig] | None = None,
    max_fields: int = 2,
    max_size: int = 16,
    exact_rotations: bool = True,
) -> st.SearchStrategy[ConvCase]:
    """Whole cases for a convolution property test (kernel sizes 3 and 5 by default, so filters exist)."""
    for name, strategy in (("group_strategy", group_strategy), ("config_strategy", config_strategy)):
        if strategy is not None and not isinstance(strategy, st.SearchStrategy):
            raise TypeError(f"`{name}` must be a hypothesis strategy or None, got {strategy!r}")
    in_kinds, out_kinds = _names("in_kinds", in_kinds, _KINDS), _names("out_kinds", out_kinds, _KINDS)
    check_int("max_fields", max_fields, minimum=1)
    check_int("max_size", max_size, minimum=1)
    gs = group_strategy if group_strategy is not None else groups(max_n=8)
    cs = config_strategy if config_strategy is not None else conv_configs(kernel_sizes=(3, 5))

    @st.composite
    def build(draw: Any) -> ConvCase:
        G = draw(gs)
        t_in = draw(field_types(G, in_kinds, 1, max_fields, max_channels=16))
        t_out = draw(field_types(G, out_kinds, 1, max_fields, max_channels=16))
        cfg = draw(cs)
        n = draw(input_sizes(cfg, max_size=max_size, exact_rotations=exact_rotations))
        return ConvCase(G, t_in, t_out, cfg, n)

    return build()
