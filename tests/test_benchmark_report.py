"""The benchmark report's model-build table (benchmarks/run.py's ``markdown``, on a made-up report)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run_module(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # run.py imports its sibling _bench_cases
    spec = importlib.util.spec_from_file_location("eqcnn_bench_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report():
    machine = {
        "cpu_count": 2,
        "torch": "x",
        "threads": 2,
        "escnn": "1.0.11",
        "python": "3.11",
        "date_utc": "now",
        "loadavg_start": (0.0, 0.0, 0.0),
        "loadavg_end": (0.0, 0.0, 0.0),
        "command": "run.py",
    }
    return {"mode": "full", "machine": machine, "layers": [], "import": {"repeats": 2, "median_s": {"eqcnn": 0.01}}}


def test_the_model_build_ratio_is_the_median_of_the_rounds_ratios(monkeypatch):
    run = _run_module(monkeypatch)
    report = _report()
    times = {"eqcnn": {"cold": 0.010, "warm": 0.002}, "escnn": {"cold": 0.200, "warm": 0.100}}
    report["model_build"] = {
        "fields": 16,
        "repeats": 9,
        "groups": {"C4": {**times, "ratio": {"cold": 0.04, "warm": 0.03}}},
    }
    md = run.markdown(report)
    # the ratio column shows the rounds' median ratio (0.040), not the ratio of the medians (0.050)
    assert "| C4 | 0.01 | 0.2 | 0.040 | 0.002 | 0.1 | 0.030 |" in md
    assert "median of 9; ratios: median of each round's ratio" in md


def test_the_report_leaves_out_a_model_build_that_was_not_run(monkeypatch):
    # `--build-rounds 0` (a GPU session short of time): no model-build table, the rest as usual
    md = _run_module(monkeypatch).markdown(_report())
    assert "Model build" not in md and "Import time beyond torch" in md
