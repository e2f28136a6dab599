"""Accuracy of classifiers against the rotation angle of their test images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._checks import check_probability, describe
from ._mpl import target_axes

__all__ = ["plot_accuracy_vs_angle"]


def plot_accuracy_vs_angle(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str = "Test accuracy against rotation of the test digits",
    chance: float | None = 0.1,
    *,
    ax: Any = None,
) -> Any:
    """Line plot of accuracy (0..1) against angle (degrees), one line per model.

    Args:
        curves: ``{name: (angles_in_degrees, accuracies)}``.
        title: figure title.
        chance: draw a dotted line at this accuracy (``None``: no line).
        ax: a matplotlib ``Axes`` to draw on (default: a new figure's).

    Returns the ``matplotlib.figure.Figure`` (``ax``'s figure when ``ax`` is
    given; save it with ``fig.savefig(path)``). The figure is made without
    pyplot, so nothing is left open.

    Example:
        >>> fig = plot_accuracy_vs_angle({"CNN": ([0, 90], [0.98, 0.2]), "C8": ([0, 90], [0.97, 0.97])})
        >>> len(fig.axes)
        1
    """
    if not isinstance(curves, Mapping):
        raise TypeError(f"`curves` must be a mapping {{name: (angles, accuracies)}}, got {describe(curves)}")
    if not curves:
        raise ValueError("`curves` must hold at least one model, got an empty mapping")
    for name, curve in curves.items():
        if not isinstance(curve, (tuple, list)) or len(curve) != 2:
            raise TypeError(f"`curves[{name!r}]` must be a pair (angles, accuracies), got {describe(curve)}")
    if chance is not None:
        check_probability("chance", chance)
    fig, ax = target_axes(ax, figsize=(7, 4), layout="constrained")
    for name, (angles, accs) in curves.items():
        if len(angles) != len(accs):
            raise ValueError(f"curve {name!r}: {len(angles)} angles but {len(accs)} accuracies")
        ax.plot(list(angles), [100 * a for a in accs], marker="o", markersize=3, label=name)
    if chance is not None:
        ax.axhline(100 * chance, color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set_xlabel("rotation of the test digits (degrees)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(range(0, 361, 45))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(title)
    return fig
