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
