"""`eqcnn bench`: finds benchmarks/run.py, forwards the arguments and the exit status, or explains."""

import eqcnn.cli
from eqcnn.cli._bench import find_script


def _fake_checkout(root, status=0):
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "run.py").write_text(
        "import sys\nprint('ARGS', sys.argv[1:])\nsys.exit(" + str(status) + ")\n"
    )
    return root / "benchmarks" / "run.py"


def test_finds_the_script_in_a_parent(tmp_path):
    script = _fake_checkout(tmp_path)
    (tmp_path / "src" / "deep").mkdir(parents=True)
    assert find_script(tmp_path / "src" / "deep") == script
    assert find_script(tmp_path / "src" / "deep" / "..") == script


def test_forwards_quick_and_extra_arguments(tmp_path, monkeypatch, capsys):
    _fake_checkout(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert eqcnn.cli.main(["bench", "--quick", "--", "--only", "conv"]) == 0
    assert "ARGS ['--quick', '--only', 'conv']" in capsys.readouterr().out


def test_returns_the_scripts_exit_status(tmp_path, capsys):
    script = _fake_checkout(tmp_path, status=3)
    assert eqcnn.cli.main(["bench", "--script", str(script)]) == 3


def test_explains_when_there_is_no_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert eqcnn.cli.main(["bench"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eqcnn bench: error: no benchmarks/run.py found") and "source checkout" in err
    assert err.count("\n") == 1


def test_top_level_help_lists_every_command(capsys):
    assert eqcnn.cli.main([]) == 0
    out = capsys.readouterr().out
    for command in ("quickstart", "demo", "bench"):
        assert command in out
