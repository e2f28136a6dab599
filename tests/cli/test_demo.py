"""`eqcnn demo`: its model, training loop, progress bar, table and (slow) a full quick run."""

import io
import json

import pytest
import torch

import eqcnn
import eqcnn.cli
from eqcnn.cli._demo import REFERENCE, _sizes, format_table
from eqcnn.cli._demo_model import build_digit_model, count_parameters, matched_width
from eqcnn.cli._demo_train import ProgressBar, accuracy, train_classifier


@pytest.mark.parametrize("group", [eqcnn.Cyclic(4), eqcnn.Cyclic(8), eqcnn.Dihedral(4)])
def test_digit_model_logits_are_exactly_invariant_to_quarter_turns(group):
    model = build_digit_model(group, 2).eval()
    x = torch.randn(3, 1, 29, 29)
    y = model(x)
    for k in (1, 2, 3):
        torch.testing.assert_close(model(torch.rot90(x, k, dims=(-2, -1))), y, rtol=1e-5, atol=1e-5)
    if group.has_reflections:
        torch.testing.assert_close(model(torch.flip(x, dims=[-1])), y, rtol=1e-5, atol=1e-5)


def test_plain_digit_model_is_not_invariant():
    model = build_digit_model(eqcnn.Trivial(), 4).eval()
    x = torch.randn(3, 1, 29, 29)
    assert (model(torch.rot90(x, 1, dims=(-2, -1))) - model(x)).abs().max() > 1e-3


def test_models_are_matched_in_parameters():
    sizes = _sizes(["cnn", "c8", "d4"], 4)
    ref = sizes[REFERENCE][2]
    for key, (_, _, params) in sizes.items():
        assert abs(params - ref) / ref < 0.2, (key, params, ref)
    assert matched_width(eqcnn.Cyclic(8), count_parameters(build_digit_model(eqcnn.Cyclic(8), 3))) == 3


def test_training_lowers_the_loss_and_is_seeded():
    x = torch.randn(64, 1, 13, 13)
    y = torch.arange(64) % 2
    x[y == 1, :, 3:10, 3:10] += 3.0  # class 1 has a bright square
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_digit_model(eqcnn.Trivial(), 2, classes=2)
        train_classifier(model, x, y, epochs=6, batch_size=16, lr=1e-2, label="t", stream=io.StringIO())
        results.append([p.detach().clone() for p in model.parameters()])
    assert accuracy(model, x, y) > 0.9
    assert all(torch.equal(a, b) for a, b in zip(*results))


def test_progress_bar_prints_one_line_off_a_terminal():
    out = io.StringIO()
    bar = ProgressBar("work", 4, out, width=8)
    for _ in range(4):
        bar.update(1, "loss 0.1")
    bar.close("done")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("work 4/4 done")


def test_progress_bar_is_tqdms_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    bar = ProgressBar("work", 4, out)
    for _ in range(4):
        bar.update(1, "loss 0.1")
    bar.close("done")
    text = out.getvalue()
    assert "work: 100%" in text and "4/4" in text and "done" in text


def test_table_lists_every_model_and_protocol():
    results = {
        "config": {"angles": [0.0, 15.0], "train_digits": 10, "test_digits": 5, "epochs": 1, "threads": 2},
        "models": {
            "cnn": {
                "name": "CNN",
                "group": "Trivial()",
                "width": 9,
                "params": 1234,
                "upright_acc": 0.98,
                "angle_acc": [0.98, 0.5],
                "upright_train_s": 3.2,
                "rot_acc": 0.9,
                "rot_train_s": 3.0,
            },
            "c8": {
                "name": "C8",
                "group": "Cyclic(8)",
                "width": 4,
                "params": 1200,
                "upright_acc": 0.97,
                "angle_acc": [0.97, 0.96],
                "upright_train_s": 9.0,
            },
        },
    }
    table = format_table(results)
    lines = table.splitlines()
    assert lines[0].startswith("| model") and "MNIST-rot acc" in lines[0]
    assert "| CNN (Trivial(), width 9) | 1,234  | 98.0%" in lines[2]
    assert "74.0%" in lines[2] and "50.0%" in lines[2]  # mean and worst over the angles
    assert lines[3].rstrip().endswith("| -             | -                 |")  # C8 without MNIST-rot
    assert "every multiple of 15 degrees" in table


def test_help_explains_the_demo(capsys):
    with pytest.raises(SystemExit):
        eqcnn.cli.main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "MNIST-rot" in out and "--quick" in out and "--output-dir" in out


@pytest.mark.slow
def test_quick_demo_writes_table_results_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert eqcnn.cli.main(["demo", "--quick", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| CNN" in out and "| C8" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["angles"] == [45.0 * k for k in range(8)]
    for entry in results["models"].values():
        assert len(entry["angle_acc"]) == 8 and 0 <= entry["rot_acc"] <= 1
    for name in ("accuracy_vs_angle.png", "lifting_filters.png", "feature_map_rotation.png", "results.md"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--width", "0"], "`--width` must be >= 1, got 0"),
        (["--epochs", "-1"], "`--epochs` must be >= 1, got -1"),
        (["--threads", "0"], "`--threads` must be >= 1, got 0"),
        (["--angle-step", "0"], "`--angle-step` must be in (0, 360], got 0"),
        (["--angle-step", "nan"], "`--angle-step` must be in (0, 360], got nan"),
        (["--models", "cnn,c7"], "`--models` must be a comma-separated list from cnn, c4, c8, c16, d4; got 'cnn,c7'"),
        (
            ["--protocols", "sideways"],
            "`--protocols` must be a comma-separated list from upright, rotated; got 'sideways'",
        ),
        (["--protocols", ""], "`--protocols` must be a comma-separated list from upright, rotated; got ''"),
    ],
)
def test_demo_usage_errors_exit_2_with_one_line(argv, message, tmp_path, capsys):
    assert eqcnn.cli.main(["demo", "--output-dir", str(tmp_path / "out"), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"eqcnn demo: error: {message}\n" and captured.out == ""
    assert not (tmp_path / "out").exists()  # refused before any work


def test_demo_refuses_an_output_dir_it_cannot_create(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert eqcnn.cli.main(["demo", "--output-dir", str(tmp_path / "file" / "sub")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eqcnn demo: error: `--output-dir` must be a folder that can be created, got ")
    assert err.count("\n") == 1


def test_demo_skips_plots_with_the_install_hint_without_matplotlib(tmp_path, monkeypatch):
    import sys

    from eqcnn.cli._demo import _plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    log = io.StringIO()
    model = build_digit_model(eqcnn.Trivial(), 2)
    results = {"config": {"angles": [0.0]}, "models": {"cnn": {"name": "CNN", "angle_acc": [0.5]}}}
    assert _plots({"cnn": model}, results, torch.zeros(1, 1, 29, 29), tmp_path, log) == []
    assert log.getvalue().startswith("skipping plots: eqcnn.plots needs matplotlib: pip install 'eqcnn[plot]'")
    assert list(tmp_path.iterdir()) == []
