"""How many regular fields a layer gets, given the ordinary network's channel count."""

from __future__ import annotations

import math
from typing import Literal

from .._checks import check_choice, check_int, check_positive
from ..groups import PointGroup
from ..kernels import kernel_basis

__all__ = ["Match", "num_fields"]

Match = Literal["fields", "channels", "params"]


def num_fields(
    channels: int,
    group: PointGroup,
    match: Match = "fields",
    width: float = 1.0,
    kernel_size: int | None = None,
) -> int:
    """Regular fields for a layer whose ordinary (``Trivial()``) version has ``channels`` channels.

    (For ``SO2`` / ``O2``: ``bl_regular`` fields, and ``order`` below is their size.)

    - ``"fields"``: as many regular fields as the ordinary network has
      channels (``order`` times the channels): the layout of the e2cnn/escnn
      papers;
    - ``"channels"``: ``channels / order`` fields: the same channel count;
    - ``"params"``: about the same number of parameters (needs
      ``kernel_size``, see below).

    The parameters do not grow with the channels: a regular-to-regular filter
    between two fields has ``dim`` free weights (the dimension of its kernel
    basis, :func:`eqcnn.kernels.kernel_basis`), where the ordinary conv has
    ``k^2`` per channel pair, and ``dim`` is well below ``order * k^2``
    because the filter must be equivariant (C4, 7x7: 80 against 196; C8,
    5x5: 88 against 200; for C4, C8, C16 and D4, about ``0.4 * order * k^2``
    for 5x5 to 9x9 kernels and ``0.67 * order * k^2`` for 3x3). So ``"fields"`` gives about ``dim / k^2``
    times the parameters of the ordinary layer (C4, 7x7: 1.6x), not
    ``order`` times, and ``"channels"`` about ``dim / (order^2 k^2)`` of
    them (C4, 7x7: 0.10), not ``1 / order``. ``"params"`` with
    ``kernel_size`` uses ``channels * k / sqrt(dim)`` fields; without
    ``kernel_size`` it falls back to ``channels / sqrt(order)``, which
    assumes ``dim = order * k^2`` and so gives only about 0.4 to 0.7 times
    the ordinary layer's parameters.

    Measured on :class:`SFCNN` (kernels 9, 7, 7, 7, 7, 5) against
    ``SFCNN(Trivial())`` (433,522 parameters), the whole network including
    its head: ``"fields"`` 1.66x (C4), 3.30x (C8, D4), 6.59x (C16);
    ``"channels"`` 0.109 (C4), 0.051 (C8, D4), 0.027 (C16); ``"params"``
    1.00 for all four (the last example below measures C8).

    The result is ``round(width * channels / scale)``, at least 1.

    Example:
        >>> import eqcnn
        >>> from eqcnn.models import SFCNN, num_fields
        >>> [num_fields(64, eqcnn.Cyclic(16), m) for m in ("fields", "channels", "params")]
        [64, 4, 16]
        >>> num_fields(64, eqcnn.Cyclic(8), "params", kernel_size=5)  # 88 weights per field pair vs 25
        34
        >>> def params(model): return sum(p.numel() for p in model.parameters())
        >>> base = params(SFCNN(eqcnn.Trivial()))
        >>> [round(params(SFCNN(eqcnn.Cyclic(8), match=m)) / base, 3) for m in ("fields", "channels", "params")]
        [3.304, 0.051, 0.999]
    """
    check_int("channels", channels, minimum=1)
    if not isinstance(group, PointGroup):
        raise TypeError(f"`group` must be an eqcnn group (Trivial(), Cyclic(N), Dihedral(N)), got {group!r}")
    check_choice("match", match, ("fields", "channels", "params"))
    check_positive("width", width)
    if kernel_size is not None:
        check_int("kernel_size", kernel_size, minimum=1)
    # SO2 / O2: their fields are band-limited (bl_regular), of that size, not regular
    reg = group.bl_regular_representation if group.is_continuous else group.regular_representation  # type: ignore[attr-defined]
    if match == "params" and group.spatial_dims == 3:
        # a 3-D regular -> regular filter has |G| k^3 weights per field pair (its free first row): exactly
        # the ordinary layer's parameters at channels / sqrt(|G|) fields, for any kernel size
        scale = math.sqrt(reg.size)
    elif match == "params" and kernel_size is not None and reg.size > 1:
        scale = math.sqrt(kernel_basis(reg, reg, kernel_size).dim / kernel_size**2)
    else:
        scale = {"fields": 1.0, "channels": float(reg.size), "params": math.sqrt(reg.size)}[match]
    return max(1, round(width * channels / scale))
