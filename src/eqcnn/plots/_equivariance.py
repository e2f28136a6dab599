"""Equivariance figures: error against rotation angle, and error per layer."""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from .._checks import describe
from ._mpl import require_matplotlib, target_axes

__all__ = ["plot_error_by_angle", "plot_layerwise_errors"]


def plot_error_by_angle(model: nn.Module | Any, ax: Any = None, *, label: str | None = None, **kwargs: Any) -> Any:
    """Plot the relative equivariance error against the rotation angle, with the baseline's curve.

    ``model`` is a module (the curve is computed with
    :func:`eqcnn.testing.error_by_angle`, which takes ``kwargs``: ``x``,
    ``angles``, ``baseline``, ``output``...) or an :class:`~eqcnn.testing.AngleCurve`.
    The y axis is logarithmic; an error of 0 (exact) is drawn at the bottom of
    the axis. ``ax`` is a matplotlib ``Axes`` to draw on (default: a new
    figure's).

    Returns the ``matplotlib.figure.Figure`` (``ax``'s figure when ``ax`` is
    given), made without pyplot, so nothing is left open; its axes are
    ``fig.axes``.

    Example:
        >>> from torch import nn
        >>> from eqcnn.plots import plot_error_by_angle
        >>> fig = plot_error_by_angle(nn.Conv2d(1, 1, 3, padding=1), angles=[0, 45, 90], size=9)
        >>> fig.axes[0].get_xlabel()
        'rotation angle (degrees)'
    """
    from ..testing import AngleCurve, error_by_angle

    if not isinstance(model, (nn.Module, AngleCurve)):
        raise TypeError(
            f"`model` must be a torch.nn.Module or an AngleCurve (from error_by_angle), got {describe(model)}"
        )
    fig, ax = target_axes(ax, figsize=(6, 3.5), layout="constrained")
    curve = model if isinstance(model, AngleCurve) else error_by_angle(model, **kwargs)
    finite = [v for v in curve.model + (curve.baseline or []) if v > 0 and math.isfinite(v)]
    floor = min(finite) / 10 if finite else 1e-12
    name = label or (type(model).__name__ if isinstance(model, nn.Module) else "model")
    ax.plot(curve.angles, [max(v, floor) for v in curve.model], marker="o", ms=3, label=f"{name} ({curve.group})")
    if curve.baseline is not None:
        ax.plot(curve.angles, [max(v, floor) for v in curve.baseline], marker="s", ms=3, label="baseline (no symmetry)")
    ax.set_yscale("log")
    ax.set_xlabel("rotation angle (degrees)")
    ax.set_ylabel("relative L2 error")
    ax.set_xticks(range(0, 361, 45))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


def plot_layerwise_errors(errors: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Bar chart of the error after each layer (a :class:`~eqcnn.testing.LayerwiseErrors`, or a model).

    With a model, ``kwargs`` go to :func:`eqcnn.testing.layerwise_errors`.
    Layers that could not be compared are left empty. ``ax`` is a matplotlib
    ``Axes`` to draw on (default: a new figure's).

    Returns the ``matplotlib.figure.Figure`` (``ax``'s figure when ``ax`` is
    given), made without pyplot, so nothing is left open.

    Example:
        >>> from torch import nn
        >>> from eqcnn.plots import plot_layerwise_errors
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
        >>> fig = plot_layerwise_errors(net, size=9)
        >>> len(fig.axes[0].patches)
        3
    """
    from ..testing import LayerwiseErrors, layerwise_errors

    if not isinstance(errors, (nn.Module, LayerwiseErrors)):
        raise TypeError(
            f"`errors` must be a LayerwiseErrors (from layerwise_errors) or a torch.nn.Module, got {describe(errors)}"
        )
    require_matplotlib()  # before the (slow) measurement
    errs = errors if isinstance(errors, LayerwiseErrors) else layerwise_errors(errors, **kwargs)
    fig, ax = target_axes(ax, figsize=(max(4, 0.6 * len(errs) + 2), 3.5), layout="constrained")
    names = [f"{e.name}\n{e.module}" for e in errs]
    values = [e.rel_l2 if e.rel_l2 is not None else float("nan") for e in errs]
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    floor = min(positive) / 10 if positive else 1e-12
    ax.bar(range(len(values)), [max(v, floor) if math.isfinite(v) else 0 for v in values])
    ax.set_xticks(range(len(values)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("relative L2 error")
    ax.set_title(f"error after each layer under {errs.transform}")
    return fig
