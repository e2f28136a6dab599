import pytest

import eqcnn.cli


def test_quickstart_prints_exact_90_and_small_45_for_c8(capsys):
    assert eqcnn.cli.main(["quickstart", "--size", "41"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("Trivial", "Cyclic"))}
    assert set(rows) == {"Trivial()", "Cyclic(4)", "Cyclic(8)"}
    for name in ("Cyclic(4)", "Cyclic(8)"):
        assert float(rows[name][4]) < 1e-10  # 90 degrees: exact (float64)
    assert float(rows["Cyclic(8)"][3]) < 0.1 < float(rows["Trivial()"][3])  # 45 degrees


def test_help_lists_commands(capsys):
    assert eqcnn.cli.main([]) == 0
    assert "quickstart" in capsys.readouterr().out


@pytest.mark.parametrize("size", ["0", "4", "14", "-3"])
def test_quickstart_refuses_a_size_below_the_receptive_field(size, capsys):
    assert eqcnn.cli.main(["quickstart", "--size", size]) == 2
    captured = capsys.readouterr()
    assert (
        captured.err == f"eqcnn quickstart: error: `--size` must be >= 15 (the model's receptive field), got {size}\n"
    )
    assert captured.out == ""


def test_quickstart_smallest_size_runs(capsys):
    assert eqcnn.cli.main(["quickstart", "--size", "15"]) == 0
    assert "Cyclic(8)" in capsys.readouterr().out


def test_usage_errors_exit_2_from_argparse_too(capsys):
    with pytest.raises(SystemExit) as exc:
        eqcnn.cli.main(["quickstart", "--size", "x"])
    assert exc.value.code == 2
    assert "eqcnn quickstart: error: argument --size: invalid int value: 'x'" in capsys.readouterr().err
