"""Figures (needs the ``plot`` extra: matplotlib, imported lazily inside each function).

Every function returns a ``matplotlib.figure.Figure`` made without pyplot (nothing
is left open); the single-panel ones also take ``ax=`` to draw on an existing
``Axes``. Without matplotlib they raise ``ModuleNotFoundError`` with the hint
``pip install 'eqcnn[plot]'``. :func:`rotated_features` needs no matplotlib.
"""

from ._accuracy import plot_accuracy_vs_angle
from ._equivariance import plot_error_by_angle, plot_layerwise_errors
from ._features import plot_rotated_features, rotated_features
from ._filters import plot_lifting_filters

__all__ = [
    "plot_accuracy_vs_angle",
    "plot_error_by_angle",
    "plot_layerwise_errors",
    "plot_lifting_filters",
    "plot_rotated_features",
    "rotated_features",
]
