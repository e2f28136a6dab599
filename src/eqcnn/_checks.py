"""Input checks shared by every layer: real exceptions with messages that name
the argument, what was expected and what arrived."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

__all__ = [
    "ShapeError",
    "check_choice",
    "check_int",
    "check_ints",
    "check_positive",
    "check_probability",
    "check_tensor",
]


class ShapeError(ValueError):
    """A tensor arrived with the wrong number of dimensions or channels."""


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        # numpy integers are fine
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise TypeError(f"`{name}` must be an int, got {type(value).__name__} ({value!r})") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")
    return int(value)


def check_ints(name: str, value: Any, minimum: int | None = None) -> tuple[int, ...]:
    """A sequence of ints (each ``>= minimum``); errors name the entry (``widths[2]``)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"`{name}` must be a sequence of ints, got {type(value).__name__} ({value!r})")
    return tuple(check_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(value))


def _real(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_positive(name: str, value: Any) -> float:
    """A finite real number above 0 (not a bool)."""
    if not (_real(value) and math.isfinite(float(value)) and float(value) > 0):
        raise ValueError(f"`{name}` must be a positive number, got {value!r}")
    return float(value)


def check_probability(name: str, value: Any) -> float:
    """A real number in [0, 1] (not a bool)."""
    if not (_real(value) and 0.0 <= float(value) <= 1.0):
        raise ValueError(f"`{name}` must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def pair(name: str, value: Any, minimum: int | None = None) -> tuple[int, int]:
    """An int or a pair of ints, as torch.nn.Conv2d accepts."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"`{name}` must be an int or a pair of ints, got {value!r}")
        return (check_int(name, value[0], minimum), check_int(name, value[1], minimum))
    v = check_int(name, value, minimum)
    return (v, v)


def check_tensor(x: Any, channels: int, where: str) -> None:
    """Check a feature tensor of shape (B, channels, H, W) (or unbatched (channels, H, W))."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: input must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4):
        raise ShapeError(
            f"{where}: input must have shape (B, C, H, W) or (C, H, W) with C={channels}, got shape {tuple(x.shape)}"
        )
    if x.shape[-3] != channels:
        layout = " read as unbatched (C, H, W)" if x.dim() == 3 else ""
        raise ShapeError(
            f"{where}: input must have {channels} channels (dim -3), got {x.shape[-3]} (shape {tuple(x.shape)}{layout})"
        )
    if not (x.is_floating_point() or x.is_complex()):
        raise TypeError(f"{where}: input must be a floating point tensor, got dtype {x.dtype}")
