"""The lazy matplotlib import every plot shares, with one install hint."""

from __future__ import annotations

from typing import Any

INSTALL_HINT = "eqcnn.plots needs matplotlib: pip install 'eqcnn[plot]'"


def require_matplotlib() -> None:
    """Raise ``ModuleNotFoundError`` with :data:`INSTALL_HINT` when matplotlib cannot be imported."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError as e:
        raise ModuleNotFoundError(f"{INSTALL_HINT} ({e})", name="matplotlib") from e


def new_figure(**kwargs: Any) -> Any:
    """A ``matplotlib.figure.Figure`` made without pyplot: nothing global to close, no GUI window."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def target_axes(ax: Any, **figure_kwargs: Any) -> tuple[Any, Any]:
    """``(figure, axes)`` to draw on: ``ax`` and its figure, or a new figure with one axes."""
    if ax is None:
        fig = new_figure(**figure_kwargs)
        return fig, fig.add_subplot()
    from matplotlib.axes import Axes  # importable: an Axes was made with it

    if not isinstance(ax, Axes):
        raise TypeError(f"`ax` must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax.figure, ax
