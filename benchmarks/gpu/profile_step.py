"""Where a training step's time goes: eqcnn's layer against the plain conv, op by op (torch.profiler).

Three candidates: the plain conv, eqcnn's layer (the expansion its device chooses: the
dense basis on a GPU, the factored form on the CPU) and its twin with the other expansion.
For each case (a benchmark case name, benchmarks/_bench_cases.py), in fp32 and under bf16
autocast: the step's wall time with the device synchronised, the host time to issue one
step (the loop without synchronising, while the device queue is not full), and the
profiler's table of ops by self CUDA (or CPU) time.

    python3 benchmarks/gpu/profile_step.py --device cuda --cases "C16 gpu 4->4" "C8 gpu 16->16"
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _bench_cases import _steps, _types, build_candidates, cases_for

import eqcnn.nn as enn
import eqcnn.nn._filter_bank as filter_bank


def twin(case, conv: torch.nn.Module, device: str, dense: bool) -> dict:
    """The same layer with the dense basis or the factored form, whichever ``device`` would not choose."""
    saved = filter_bank._Block.dense_on
    filter_bank._Block.dense_on = lambda self, dtype, dev: dense or self.factors is None  # type: ignore[method-assign]
    try:
        other = enn.Conv2d(*_types(case), case.kernel_size, padding=case.kernel_size // 2).to(device)
    finally:
        filter_bank._Block.dense_on = saved  # type: ignore[method-assign]
    other.load_state_dict(conv.state_dict())
    tin = _types(case)[0]
    x = torch.randn(case.batch, tin.size, case.size, case.size).to(device).requires_grad_(case.kind == "group")
    return _steps(other, x, other)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _per_call(fn, n: int, device: str, sync: bool = True) -> float:
    _sync(device)
    t = time.perf_counter()
    for _ in range(n):
        fn()
    if sync:
        _sync(device)
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cases", nargs="+", required=True)
    ap.add_argument("--rows", type=int, default=14)
    args = ap.parse_args()
    dev = args.device
    sort = "self_cuda_time_total" if dev == "cuda" else "self_cpu_time_total"
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if dev == "cuda" else [])
    for case in cases_for("full", args.cases, dev):
        torch.manual_seed(0)
        cands = build_candidates(case, dev)
        other = "factored" if dev != "cpu" else "dense"  # eqcnn's default is the other one on this device
        cands[f"eqcnn-{other}"] = twin(case, cands["eqcnn"]["module"], dev, dense=other == "dense")
        for bf16 in (False, True):
            for name in ("plain", "eqcnn", f"eqcnn-{other}"):
                c = cands[name]
                c["module"].train(True)

                def step(c=c, bf16=bf16) -> None:
                    with torch.autocast(dev, dtype=torch.bfloat16, enabled=bf16):
                        c["train"]()

                for _ in range(5):
                    step()
                wall = _per_call(step, 50, dev)
                host = _per_call(step, 10, dev, sync=False)  # 10 steps: the queue does not fill
                with torch.profiler.profile(activities=acts) as prof:
                    for _ in range(10):
                        step()
                    _sync(dev)
                print(
                    f"\n## {case.name} | {name} | {'bf16 autocast' if bf16 else 'fp32'}: "
                    f"{1e3 * wall:.3f} ms per step synchronised, {1e3 * host:.3f} ms host time to issue one"
                )
                print(prof.key_averages().table(sort_by=sort, row_limit=args.rows, max_name_column_width=48))


if __name__ == "__main__":
    main()
