"""eqcnn.plots: figures of error against angle and per layer (matplotlib, lazily imported)."""

import subprocess
import sys

import pytest
from torch import nn

import eqcnn
from eqcnn import nn as enn

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_error_by_angle_plot(tmp_path):
    from eqcnn.plots import plot_error_by_angle
    from eqcnn.testing import error_by_angle

    G = eqcnn.Cyclic(4)
    model = enn.Conv2d(G.trivial(1), G.trivial(2), 3, padding=1)
    curve = error_by_angle(model, angles=[0, 45, 90, 180], size=11)
    assert curve.model[0] == 0 and curve.model[2] < 1e-5 and curve.model[1] > 0
    assert curve.baseline is not None and curve.baseline[2] > 1e-3
    ax = plot_error_by_angle(curve).axes[0]
    assert len(ax.lines) == 2
    ax.figure.savefig(tmp_path / "angle.png")
    assert (tmp_path / "angle.png").stat().st_size > 0


def test_layerwise_plot():
    from eqcnn.plots import plot_layerwise_errors

    ax = plot_layerwise_errors(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU()), size=9).axes[0]
    assert len(ax.patches) == 3 and "rot 90 deg" in ax.get_title()


def test_matplotlib_is_not_imported_by_the_core():
    code = "import sys, eqcnn, eqcnn.testing, eqcnn.nn; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
