"""How many regular fields a layer gets, given the ordinary network's channel count."""

from __future__ import annotations

import math
from typing import Literal

from .._checks import check_choice
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

    - ``"fields"``: as many regular fields as the ordinary network has
      channels (``order`` times the channels, about ``order`` times the
      parameters): the layout of the e2cnn/escnn papers;
    - ``"channels"``: ``channels / order`` fields: the same channel count,
      about ``1 / order`` of the parameters;
    - ``"params"``: about the same number of parameters.  A regular-to-regular
      filter between two fields has ``dim`` free weights (the dimension of its
      kernel basis) where the ordinary conv has ``k^2`` per channel pair, so
      the fields are ``channels * k / sqrt(dim)``; without ``kernel_size`` the
      rough rule ``channels / sqrt(order)`` is used.

    The result is ``round(width * channels / scale)``, at least 1.

    Example:
        >>> import eqcnn
        >>> from eqcnn.models import num_fields
        >>> [num_fields(64, eqcnn.Cyclic(16), m) for m in ("fields", "channels", "params")]
        [64, 4, 16]
        >>> num_fields(64, eqcnn.Cyclic(8), "params", kernel_size=5)  # 88 weights per field pair vs 25
        34
    """
    check_choice("match", match, ("fields", "channels", "params"))
    if not (isinstance(width, (int, float)) and width > 0):
        raise ValueError(f"`width` must be a positive number, got {width!r}")
    if match == "params" and kernel_size is not None and group.order > 1:
        reg = group.regular_representation
        scale = math.sqrt(kernel_basis(reg, reg, kernel_size).dim / kernel_size**2)
    else:
        scale = {"fields": 1.0, "channels": float(group.order), "params": math.sqrt(group.order)}[match]
    return max(1, round(width * channels / scale))
