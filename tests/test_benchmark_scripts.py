"""The benchmark scripts that reach into the layers' internals still run (a smoke run each, slow).

`benchmarks/factored_expansion.py` once went stale when the internals it read were refactored;
these runs catch that. The numbers they print are not checked here (benchmarks, not tests), but
each script verifies its own candidates against each other before timing them.
"""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("factored_expansion.py", ["--rounds", "1"], "| Cyclic(16) 16->16 fields k7 16px b8 |"),
        ("tiny_overhead.py", ["--rounds", "1", "--inner", "1"], "| fused floor |"),
        (  # the GPU session's profile (dense twin made by swapping out the factors), on the CPU
            "gpu/profile_step.py",
            ["--device", "cpu", "--cases", "C8 tiny", "--rows", "3"],
            "| eqcnn-dense | bf16 autocast:",
        ),
        (  # the CUDA-graph comparison's eager candidates, on the CPU (no graphs there)
            "gpu/graphed.py",
            ["--device", "cpu", "--cases", "C8 tiny", "--rounds", "1"],
            "| C8 tiny 2->2 fields k5 16px b4 | bf16 autocast |",
        ),
        (  # the CUDA target case, run on the CPU
            "run.py",
            ["--quick", "--device", "cpu", "--cases", "C8 gpu", "--rounds", "1", "--no-memory"],
            "| cpu | C8 gpu 16->16 fields k5 64px b32 | eval |",
        ),
        (  # the bf16 autocast modes, on a tiny case: a CPU without native bf16 (AMD EPYC here) takes over three
            # minutes for one bf16 step of the CUDA target case, a Xeon seconds
            "run.py",
            ["--quick", "--device", "cpu", "--cases", "C8 tiny", "--autocast", "--rounds", "1", "--no-memory"],
            "| cpu | C8 tiny 2->2 fields k5 16px b4 | eval_bf16 |",
        ),
        (  # the octahedral 3-D layers against torch's Conv3d (escnn's R3Conv takes minutes to build: off)
            "octahedral3d.py",
            ["--rounds", "1", "--build-rounds", "0", "--no-escnn", "--no-memory"],
            "| O lift 1->2 k3 | 1->48 k3 4x24^3 |",
        ),
        (  # the 45-degree split (bicubic and exact references) and the AntiAliased cost table
            "rotation45.py",
            ["--seeds", "1", "--inputs", "1", "--sigmas", "1", "--rounds", "1", "--every", "6"],
            "| AntiAliased(ReLU, sigma=1) |",
        ),
    ],
)
def test_benchmark_script_runs(script, args, expect, tmp_path):
    if script in ("run.py", "octahedral3d.py"):
        args = [*args, "--out", str(tmp_path)]  # not over the committed results
    out = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert expect in out.stdout
