"""Figures (needs the ``plot`` extra: matplotlib, imported lazily inside each function)."""

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
