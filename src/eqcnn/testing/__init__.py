"""The equivariance test harness (layer 5 of eqcnn): prove, numerically, that a model is as equivariant as it claims.

- transforms: :func:`shift`, :func:`rotate` (any angle), :class:`Shift`, :class:`Rotation` and group elements;
- inputs: :func:`band_limited_noise`, :func:`natural_image`;
- where to compare: :func:`receptive_field`, :func:`valid_mask`, :func:`disk_mask`;
- metrics: :func:`equivariance_error`, :func:`equivariance_report`, :func:`assert_equivariant`
  (one tolerance table, :data:`TOLERANCES`), :func:`layerwise_errors`, :func:`lie_derivative`,
  :func:`error_by_angle`;
- :mod:`eqcnn.testing.strategies` (hypothesis) and a pytest plugin (``--eqcnn-device``, ``device``, ``dtype``).

Example:
    >>> import eqcnn
    >>> from eqcnn import nn as enn
    >>> from eqcnn.testing import assert_equivariant
    >>> G = eqcnn.Cyclic(4)
    >>> _ = assert_equivariant(enn.Conv2d(G.trivial(1), G.regular(2), 3, padding=1), size=9)
"""

from ._baseline import plain_baseline
from ._curves import AngleCurve, error_by_angle
from ._declare import Declaration, declare
from ._inputs import band_limited_noise, natural_image
from ._layerwise import LayerError, LayerwiseErrors, layerwise_errors
from ._lie import LieDerivative, lie_derivative, warp_velocity
from ._masks import disk_mask, soft_disk, valid_mask
from ._metrics import EquivarianceResult, equivariance_error
from ._receptive_field import ReceptiveField, receptive_field
from ._report import EquivarianceReport, ReportRow, assert_equivariant, equivariance_report, grid_symmetry_problems
from ._tolerance import BASELINE_RATIO, TOLERANCES, no_tf32, tolerance
from ._transforms import Rotation, Shift, rotate, shift

__all__ = [
    "BASELINE_RATIO",
    "TOLERANCES",
    "AngleCurve",
    "Declaration",
    "EquivarianceReport",
    "EquivarianceResult",
    "LayerError",
    "LayerwiseErrors",
    "LieDerivative",
    "ReceptiveField",
    "ReportRow",
    "Rotation",
    "Shift",
    "assert_equivariant",
    "band_limited_noise",
    "declare",
    "disk_mask",
    "equivariance_error",
    "equivariance_report",
    "error_by_angle",
    "grid_symmetry_problems",
    "layerwise_errors",
    "lie_derivative",
    "natural_image",
    "no_tf32",
    "plain_baseline",
    "receptive_field",
    "rotate",
    "shift",
    "soft_disk",
    "tolerance",
    "valid_mask",
    "warp_velocity",
]
