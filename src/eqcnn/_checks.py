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
    "check_dtype",
    "check_int",
    "check_ints",
    "check_module",
    "check_number",
    "check_positive",
    "check_probability",
    "check_tensor",
    "check_tensor_arg",
    "describe",
]


class ShapeError(ValueError):
    """A tensor arrived with the wrong number of dimensions or channels."""


def describe(value: Any) -> str:
    """What arrived, for a message: the type and a short repr (a tensor by its shape and dtype)."""
    if isinstance(value, torch.Tensor):
        return f"Tensor of shape {tuple(value.shape)} ({value.dtype})"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} ({text})"


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


def check_number(
    name: str, value: Any, minimum: float | None = None, maximum: float | None = None, *, finite: bool = True
) -> float:
    """A real number (not a bool), finite unless ``finite=False``, in ``[minimum, maximum]``."""
    ok = _real(value) and not math.isnan(float(value)) and (not finite or math.isfinite(float(value)))
    if ok and minimum is not None:
        ok = float(value) >= minimum
    if ok and maximum is not None:
        ok = float(value) <= maximum
    if not ok:
        what = "a finite number" if finite else "a number"
        if minimum is not None and maximum is not None:
            what += f" in [{minimum:g}, {maximum:g}]"
        elif minimum is not None:
            what += f" >= {minimum:g}"
        elif maximum is not None:
            what += f" <= {maximum:g}"
        got = repr(value) if _real(value) else describe(value)
        error = ValueError if _real(value) else TypeError
        raise error(f"`{name}` must be {what}, got {got}")
    return float(value)


def check_module(name: str, value: Any) -> torch.nn.Module:
    """A ``torch.nn.Module`` (a plain function is refused with a hint: the harness reads its submodules)."""
    if not isinstance(value, torch.nn.Module):
        hint = " (wrap a plain function in an nn.Module)" if callable(value) and not isinstance(value, type) else ""
        raise TypeError(f"`{name}` must be a torch.nn.Module, got {describe(value)}{hint}")
    return value


def check_dtype(name: str, value: Any, floating: bool = True) -> torch.dtype:
    """A ``torch.dtype`` (a floating point one unless ``floating=False``)."""
    kind = "a floating point torch.dtype" if floating else "a torch.dtype"
    if not isinstance(value, torch.dtype):
        raise TypeError(f"`{name}` must be {kind} (e.g. torch.float32), got {describe(value)}")
    if floating and not value.is_floating_point:
        raise ValueError(f"`{name}` must be {kind} (e.g. torch.float32), got {value}")
    return value


def check_tensor_arg(
    name: str, value: Any, dims: tuple[int, ...] | None = None, layout: str = "", floating: bool = False
) -> torch.Tensor:
    """A tensor argument of a function (not a layer's input: see :func:`check_tensor`), with ``dims``
    dimensions (described by ``layout``, e.g. ``"(B, C, H, W)"``) and a floating point dtype if asked."""
    shape = f" of shape {layout}" if layout else ""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor{shape}, got {describe(value)}")
    if dims is not None and value.dim() not in dims:
        raise ShapeError(f"`{name}` must have shape {layout or dims}, got shape {tuple(value.shape)}")
    if floating and not value.is_floating_point():
        raise TypeError(f"`{name}` must be a floating point tensor, got dtype {value.dtype}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def ntuple(name: str, value: Any, n: int, minimum: int | None = None) -> tuple[int, ...]:
    """An int or a tuple of ``n`` ints, as ``torch.nn.Conv{n}d`` accepts (``n`` = 2: :func:`pair`)."""
    if n == 2:
        return pair(name, value, minimum)
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"`{name}` must be an int or a tuple of {n} ints, got {value!r}")
        return tuple(check_int(name, v, minimum) for v in value)
    v = check_int(name, value, minimum)
    return (v,) * n


def pair(name: str, value: Any, minimum: int | None = None) -> tuple[int, int]:
    """An int or a pair of ints, as torch.nn.Conv2d accepts."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"`{name}` must be an int or a pair of ints, got {value!r}")
        return (check_int(name, value[0], minimum), check_int(name, value[1], minimum))
    v = check_int(name, value, minimum)
    return (v, v)


def check_tensor(x: Any, channels: int, where: str, dims: int | None = 2) -> int:
    """Check a feature tensor of shape ``(B, channels, H, W)`` (or unbatched ``(channels, H, W)``) for
    ``dims=2``, ``(B, channels, D, H, W)`` (or ``(channels, D, H, W)``) for ``dims=3``; ``dims=None``
    (a ``Trivial()`` type, which serves images and volumes) takes either, a 4-D tensor read as a batch
    of images.  Returns the number of spatial dimensions."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: input must be a torch.Tensor, got {type(x).__name__}")
    if dims is None:
        if x.dim() == 5:
            dims = 3
        elif x.dim() not in (3, 4):
            raise ShapeError(
                f"{where}: input must have shape (B, C, H, W), (C, H, W) or (B, C, D, H, W) with C={channels}, "
                f"got shape {tuple(x.shape)}"
            )
        else:
            dims = 2
    names = "H, W" if dims == 2 else "D, H, W"
    if x.dim() not in (dims + 1, dims + 2):
        hint = ""
        if dims == 3 and x.dim() == 3:
            hint = " (a 3D layer takes volumes; for images use the 2D layer and a planar group)"
        elif dims == 2 and x.dim() == 5:
            hint = " (a 2D layer takes images; for volumes use the 3D layer and Octahedral()/FullOctahedral())"
        raise ShapeError(
            f"{where}: input must have shape (B, C, {names}) or (C, {names}) with C={channels}, "
            f"got shape {tuple(x.shape)}{hint}"
        )
    axis = -(dims + 1)
    if x.shape[axis] != channels:
        layout = f" read as unbatched (C, {names})" if x.dim() == dims + 1 else ""
        raise ShapeError(
            f"{where}: input must have {channels} channels (dim {axis}), got {x.shape[axis]} "
            f"(shape {tuple(x.shape)}{layout})"
        )
    if not (x.is_floating_point() or x.is_complex()):
        raise TypeError(f"{where}: input must be a floating point tensor, got dtype {x.dtype}")
    return dims
