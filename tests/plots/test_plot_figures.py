"""eqcnn.plots: every function returns a Figure made without pyplot, models are drawn in eval mode,
arguments are checked, and a missing matplotlib gives the install hint."""

import math
import sys

import pytest
import torch

import eqcnn
from eqcnn import nn as enn

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from eqcnn import plots  # noqa: E402

G = eqcnn.Cyclic(4)


def _lift(group=G, fields=2, k=3):
    return enn.Conv2d(group.trivial(1), group.regular(fields), k, padding=k // 2)


def _all_plots():
    lift = _lift()
    scalar = enn.Conv2d(G.trivial(1), G.trivial(2), 3, padding=1)
    return {
        "plot_accuracy_vs_angle": lambda: plots.plot_accuracy_vs_angle({"a": ([0, 90], [0.9, 0.5])}),
        "plot_error_by_angle": lambda: plots.plot_error_by_angle(scalar, angles=[0, 90], size=9),
        "plot_layerwise_errors": lambda: plots.plot_layerwise_errors(
            enn.Sequential(lift, enn.ReLU(lift.out_type)), size=9
        ),
        "plot_lifting_filters": lambda: plots.plot_lifting_filters(lift),
        "plot_rotated_features": lambda: plots.plot_rotated_features(
            {"C4": (lift, lift.out_type)}, torch.randn(1, 9, 9)
        ),
    }


def test_every_plot_function_is_covered():
    assert {n for n in plots.__all__ if n.startswith("plot_")} == set(_all_plots())


@pytest.mark.parametrize("name", sorted(_all_plots()))
def test_every_plot_returns_a_figure_and_leaves_no_pyplot_figure_open(name, tmp_path):
    plt.close("all")
    fig = _all_plots()[name]()
    assert isinstance(fig, Figure) and fig.axes
    assert plt.get_fignums() == []
    fig.savefig(tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_single_panel_plots_draw_on_a_given_axes():
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plots.plot_accuracy_vs_angle({"a": ([0, 90], [0.9, 0.5])}, ax=left) is fig
    curve_fig = plots.plot_error_by_angle(
        enn.Conv2d(G.trivial(1), G.trivial(1), 3, padding=1), right, angles=[0, 90], size=9
    )
    assert curve_fig is fig and len(fig.axes) == 2
    assert len(left.lines) == 2 and len(right.lines) == 2  # the model and chance; the model and the baseline
    bars = Figure().add_subplot()
    assert (
        plots.plot_layerwise_errors(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1)), bars, size=9)
        is bars.figure
    )
    assert len(bars.patches) == 2 and "rot 90 deg" in bars.get_title()
    with pytest.raises(TypeError, match="`ax` must be a matplotlib Axes or None, got Figure"):
        plots.plot_accuracy_vs_angle({"a": ([0], [1.0])}, ax=fig)


def _train_mode_model():
    t = G.regular(4)
    return enn.Sequential(_lift(fields=4), enn.BatchNorm2d(t), enn.FieldDropout(t, p=0.5))


@pytest.mark.parametrize("training", [True, False])
def test_rotated_features_run_in_eval_mode_and_restore_the_mode(training):
    torch.manual_seed(0)
    model = _train_mode_model().train(training)
    before = {k: v.clone() for k, v in [*model.named_buffers(), *model.named_parameters()]}
    f_gx, g_fx, _ = plots.rotated_features(model, model.out_type, torch.randn(1, 1, 17, 17), 90)
    # in training mode, dropout and batch statistics would make these differ by about 0.7
    assert float((f_gx - g_fx).norm() / g_fx.norm()) < 1e-5
    assert model.training is training and all(m.training is training for m in model.modules())
    after = dict([*model.named_buffers(), *model.named_parameters()])
    assert "1.running_mean" in before and all(
        torch.equal(before[k], after[k]) for k in before
    )  # running statistics untouched
    assert torch.is_grad_enabled() and not f_gx.requires_grad


def test_plot_rotated_features_runs_in_eval_mode_and_restores_the_mode():
    torch.manual_seed(0)
    model = _train_mode_model()
    mean = model[1].running_mean.clone()
    fig = plots.plot_rotated_features({"m": (model, model.out_type)}, torch.randn(1, 17, 17))
    err = float(fig.axes[4].get_title().rsplit(" ", 1)[1])
    assert err < 1e-5 and model.training and torch.equal(model[1].running_mean, mean)


def test_rotated_features_errors():
    conv = _lift(eqcnn.Cyclic(8))
    x = torch.randn(1, 1, 9, 9)
    with pytest.raises(ValueError, match=r"`degrees` must be an angle of Cyclic\(8\) for non-scalar fields \(0, 45, "):
        plots.rotated_features(conv, conv.out_type, x, 30)
    with pytest.raises(ValueError, match="`degrees` must be a finite angle in degrees, got nan"):
        plots.rotated_features(conv, conv.out_type, x, math.nan)
    with pytest.raises(ValueError, match=r"`x` must be a tensor of shape \(C, H, W\) or \(B, C, H, W\), got \(9, 9\)"):
        plots.rotated_features(conv, conv.out_type, torch.randn(9, 9), 90)
    with pytest.raises(TypeError, match=r"`features` must be a torch\.nn\.Module, got function"):
        plots.rotated_features(lambda t: t, conv.out_type, x, 90)
    with pytest.raises(ValueError, match=r"`x` must be one image of shape \(C, H, W\), got \(1, 1, 9, 9\)"):
        plots.plot_rotated_features({"c": (conv, conv.out_type)}, x)
    with pytest.raises(ValueError, match=r"`channel` must be in \[0, 16\) \('c' has 16 feature channels\), got 16"):
        plots.plot_rotated_features({"c": (conv, conv.out_type)}, x[0], channel=16)
    with pytest.raises(ValueError, match="`channel` must be >= 0, got -1"):
        plots.plot_rotated_features({"c": (conv, conv.out_type)}, x[0], channel=-1)


def test_lifting_filters_rows_columns_and_labels():
    fig = plots.plot_lifting_filters(_lift(fields=3), fields=2)
    assert len(fig.axes) == 2 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == ["0°", "90°", "180°", "270°"]
    assert len(plots.plot_lifting_filters(_lift(fields=3), fields=10).axes) == 3 * 4  # at most the layer's fields
    scalar = enn.Conv2d(G.trivial(2), G.trivial(3), 3)
    assert len(plots.plot_lifting_filters(scalar, in_channel=1).axes) == 3  # scalar fields: one column


@pytest.mark.parametrize(
    ("conv", "kwargs", "error", "match"),
    [
        (_lift(), {"fields": 0}, ValueError, "`fields` must be >= 1, got 0"),
        (_lift(), {"fields": -2}, ValueError, "`fields` must be >= 1, got -2"),
        (_lift(), {"fields": 1.5}, TypeError, r"`fields` must be an int, got float \(1.5\)"),
        (_lift(), {"in_channel": 1}, ValueError, r"`in_channel` must be in \[0, 1\), got 1"),
        (_lift(), {"in_channel": -1}, ValueError, "`in_channel` must be >= 0, got -1"),
        (
            torch.nn.Conv2d(1, 2, 3),
            {},
            TypeError,
            "`conv` must be an eqcnn.nn.Conv2d \\(a lifting convolution\\), got torch.nn.modules.conv.Conv2d",
        ),
        (
            enn.ConvTranspose2d(G.trivial(1), G.regular(2), 3),
            {},
            TypeError,
            "`conv` must be an eqcnn.nn.Conv2d \\(a lifting convolution\\), got ConvTranspose2d",
        ),
        (
            enn.Conv2d(G.regular(1), G.regular(2), 3),
            {},
            ValueError,
            r"`conv` must be a lifting convolution, whose `in_type` is scalar \(trivial\) fields; got in_type Cyc",
        ),
        (
            enn.Conv2d(G.trivial(1), G.trivial(1) + G.regular(1), 3),
            {},
            ValueError,
            "`conv.out_type` must be all regular or all trivial fields",
        ),
    ],
)
def test_lifting_filters_errors(conv, kwargs, error, match):
    with pytest.raises(error, match=match):
        plots.plot_lifting_filters(conv, **kwargs)


@pytest.mark.parametrize("name", sorted(_all_plots()))
def test_without_matplotlib_every_plot_gives_the_install_hint(name, monkeypatch):
    call = _all_plots()[name]
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, mod, None)  # `import matplotlib...` now raises ModuleNotFoundError
    with pytest.raises(ModuleNotFoundError, match=r"eqcnn.plots needs matplotlib: pip install 'eqcnn\[plot\]'"):
        call()


def test_rotated_features_needs_no_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    conv = _lift()
    a, b, _ = plots.rotated_features(conv, conv.out_type, torch.randn(1, 9, 9), 90)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_lifting_filters_of_a_continuous_group_are_the_filter_at_the_sampled_angles():
    S = eqcnn.SO2(3)
    conv = enn.Conv2d(S.trivial(1), S.bl_regular(2), 7, padding=3)
    fig = plots.plot_lifting_filters(conv, fields=2)
    assert len(fig.axes) == 2 * 8 and [ax.get_title() for ax in fig.axes[:3]] == ["0°", "45°", "90°"]
    # the filter at 90 degrees is the one at 0 degrees turned by a quarter (exact: 90 is a sampled angle)
    first, quarter = (fig.axes[i].get_images()[0].get_array() for i in (0, 2))
    assert abs(quarter - torch.rot90(torch.as_tensor(first), 1).numpy()).max() < 1e-5 * abs(first).max()
    with pytest.raises(ValueError, match=r"`conv\.out_type` must be all bl_regular or all trivial fields"):
        plots.plot_lifting_filters(enn.Conv2d(S.trivial(1), S.irreps_field(1), 7))
    plt.close("all")
