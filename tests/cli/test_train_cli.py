"""``eqcnn train``: usage errors exit 2 with one line; a tiny run prints its summary."""

import json

import pytest

from eqcnn.cli import main

TINY = ["--data", "digits", "--epochs", "1", "--batch-size", "16", "--limit-train", "32", "--limit-test", "16",
        "--width", "0.25", "--angle-samples", "8", "--angle-step", "180", "--quiet"]  # fmt: skip


def test_a_tiny_run_prints_its_summary(tmp_path, capsys):
    assert main(["train", "cnn", *TINY, "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "cnn" and set(summary["accuracy_by_angle"]) == {"0", "180"}
    # resuming a finished run returns its measurements, and refuses another model naming both
    assert main(["train", "cnn", *TINY, "--out", str(tmp_path), "--resume"]) == 0
    capsys.readouterr()
    assert main(["train", "c8", *TINY, "--out", str(tmp_path), "--resume"]) == 2
    assert "a checkpoint of model 'cnn', not 'c8'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "eqcnn train: error: --epochs must be >= 1, got 0"),
        (["--batch-size", "-4"], "eqcnn train: error: --batch-size must be >= 1, got -4"),
        (["--threads", "0"], "eqcnn train: error: --threads must be >= 1, got 0"),
    ],
)
def test_bad_values_exit_2_with_one_line(args, message, capsys):
    assert main(["train", "cnn", *args]) == 2
    assert capsys.readouterr().err.strip() == message


def test_an_unknown_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "c9"])
    assert e.value.code == 2 and "invalid choice: 'c9'" in capsys.readouterr().err
