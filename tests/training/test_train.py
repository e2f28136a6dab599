"""eqcnn.training: the plumbing of a run on a handful of digits (the full benchmark is not in CI)."""

from __future__ import annotations

import json

import pytest
import torch

from eqcnn.training import CheckpointError, TrainConfig, TrainingError, train
from eqcnn.training._loop import load_data

SMALL = dict(data="digits", epochs=2, batch_size=16, limit_train=48, limit_test=24, width=0.25,
             angle_samples=16, angle_step=90.0)  # fmt: skip


@pytest.fixture(scope="module")
def digits():
    return load_data(TrainConfig(model="cnn", **SMALL))


def test_a_run_writes_checkpoint_metrics_and_curves(tmp_path, digits):
    cfg = TrainConfig(model="c8", **SMALL)
    result = train(cfg, tmp_path, data=digits, progress=False)
    assert [r["epoch"] for r in result.history] == [1, 2]
    assert set(result.angle_accuracy) == {"0", "90", "180", "270"}
    # C8 is exactly invariant to quarter turns (29x29 digits): the same accuracy at every multiple of 90
    assert len(set(result.angle_accuracy.values())) == 1
    for name in ("checkpoint.pt", "metrics.csv", "metrics.json"):
        assert (tmp_path / name).is_file()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_error"] == pytest.approx(result.test_error) and saved["parameters"] == result.parameters
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].startswith("epoch,train_loss")


def test_killed_mid_epoch_then_resumed_equals_an_uninterrupted_run(tmp_path, digits):
    cfg = TrainConfig(model="cnn", mixup=0.2, augment_rotation=True, **SMALL)
    whole = train(cfg, tmp_path / "a", data=digits, progress=False)
    cut = train(cfg, tmp_path / "b", data=digits, progress=False, stop_after=(2, 1))
    assert len(cut.history) == 1  # killed in the second epoch: the checkpoint holds the first
    again = train(cfg, tmp_path / "b", data=digits, progress=False, resume=True)
    keys = ("train_loss", "train_accuracy", "valid_accuracy", "lr")
    assert [[r[k] for k in keys] for r in again.history] == [[r[k] for k in keys] for r in whole.history]
    assert again.test_accuracy == whole.test_accuracy and again.angle_accuracy == whole.angle_accuracy
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], torch.Tensor))


def test_resume_refuses_another_model_or_protocol_and_keeps_the_checkpoint(tmp_path, digits):
    train(TrainConfig(model="cnn", **SMALL), tmp_path, data=digits, progress=False)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError, match=r"a checkpoint of model 'cnn', not 'c8'"):
        train(TrainConfig(model="c8", **SMALL), tmp_path, data=digits, progress=False, resume=True)
    with pytest.raises(CheckpointError, match=r"another protocol \(lr: checkpoint 0.002, now 0.01\)"):
        train(TrainConfig(model="cnn", **{**SMALL, "lr": 0.01}), tmp_path, data=digits, progress=False, resume=True)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_a_corrupt_checkpoint_is_refused_by_name_and_left_alone(tmp_path, digits, damage):
    train(TrainConfig(model="cnn", **SMALL), tmp_path, data=digits, progress=False)
    path = tmp_path / "checkpoint.pt"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
        match = r"checkpoint.pt is not a readable eqcnn training checkpoint"
    else:
        torch.save({"weights": 1}, path)
        match = r"checkpoint.pt is not an eqcnn training checkpoint"
    kept = path.read_bytes()
    with pytest.raises(CheckpointError, match=match):
        train(TrainConfig(model="cnn", **SMALL), tmp_path, data=digits, progress=False, resume=True)
    assert path.read_bytes() == kept


def test_a_nan_loss_stops_naming_epoch_and_step_and_keeps_the_last_good_checkpoint(tmp_path, digits):
    cfg = TrainConfig(model="cnn", **SMALL)
    train(cfg, tmp_path, data=digits, progress=False, stop_after=(2, 1))  # epoch 1 done and saved
    good = (tmp_path / "checkpoint.pt").read_bytes()
    x, y = digits["train"]
    bad = {**digits, "train": (torch.full_like(x, float("nan")), y)}
    with pytest.raises(TrainingError, match=r"the loss is nan at epoch 2, step 1: stopped; the last good checkpoint"):
        train(cfg, tmp_path, data=bad, progress=False, resume=True)
    assert (tmp_path / "checkpoint.pt").read_bytes() == good


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, r"`epochs` must be >= 1, got 0"),
        ({"batch_size": 0}, r"`batch_size` must be >= 1, got 0"),
        ({"model": "c9"}, r"`model` must be one of 'cnn', 'c8', 'c16', 'd16-c16', 'so2'; got 'c9'"),
        ({"lr": 0.0}, r"`lr` must be > 0, got 0.0"),
        ({"schedule": "linear"}, r"`schedule` must be one of 'cosine', 'step', 'constant'; got 'linear'"),
        ({"label_smoothing": 1.0}, r"`label_smoothing` must be below 1"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        TrainConfig(**kwargs)


def test_progress_is_one_line_per_epoch_off_a_terminal(tmp_path, digits, capsys):
    import io

    out = io.StringIO()
    train(TrainConfig(model="cnn", **SMALL), tmp_path, data=digits, stream=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1: loss ") and "valid error" in lines[0]


@pytest.mark.parametrize("name", ["cnn", "c8", "c16", "d16-c16", "so2"])
def test_every_named_model_builds_runs_and_has_about_the_plain_cnns_parameters(name):
    from eqcnn.training import build_model

    def count(m):
        return sum(p.numel() for p in m.parameters())

    model = build_model(name, width=0.25).eval()
    plain = count(build_model("cnn", width=0.25))
    assert model(torch.randn(2, 1, 29, 29)).shape == (2, 10)
    assert 0.5 < count(model) / plain < 2.0, (name, count(model), plain)
