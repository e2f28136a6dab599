"""Training steps replayed as CUDA graphs: how much of eqcnn's gap to cuDNN is the host's.

On a GPU, a small layer's training step is bound by the host: the time to issue its
kernels (dispatch, autograd, launches) exceeds their run time, and eqcnn's filter
expansion adds a handful of small kernels to issue (``benchmarks/gpu/profile_step.py``).
A CUDA graph (``torch.cuda.make_graphed_callables``) replays the captured forward and
backward kernels with one launch each, so what is left of the ratio to the plain conv is
the device's own work.  For each case, in fp32 and under bf16 autocast, four candidates
are timed in interleaved rounds (benchmarks/README.md's method): the plain conv and
eqcnn's layer, each eager and graphed.  Before timing, the graphed eqcnn step's weight
and input gradients are compared with the eager one's, and the plain conv's likewise
(``rel err``: the largest relative L2 difference of a gradient).  Autocast is entered inside
the captured callable, so the graph's backward, like the eager step's ``backward()`` called
outside the autocast block, runs without autocast; the last column captures eqcnn's step the
way torch's documentation shows, ``make_graphed_callables`` called under autocast, whose
backward is captured under autocast (eqcnn's expansion then runs its transposed GEMM in bf16).

    python3 benchmarks/gpu/graphed.py --cases "C8 tiny" "C8 gpu" --rounds 5

On the CPU (no CUDA graphs) only the eager candidates run: a smoke test of the script.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _bench_cases import _types, cases_for
from run import _sync, _time

import eqcnn.nn as enn


def _build(case, device: str, library: str) -> torch.nn.Module:
    torch.manual_seed(0)
    tin, tout = _types(case)
    k = case.kernel_size
    if library == "plain":
        return torch.nn.Conv2d(tin.size, tout.size, k, padding=k // 2).to(device)
    return enn.Conv2d(tin, tout, k, padding=k // 2).to(device)


class _Autocast(torch.nn.Module):
    """``module`` called under autocast: graphed, only its forward runs under autocast, as in an eager
    step whose ``backward()`` is called outside the autocast block (torch's advice)."""

    def __init__(self, module: torch.nn.Module, ac: dict[str, Any]) -> None:
        super().__init__()
        self.module, self.ac = module, ac

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(**self.ac):
            return self.module(x)


def _candidate(case, device: str, library: str, bf16: bool, graphed: str | None) -> dict[str, Any]:
    """A training step (forward + backward) of a fresh layer, eager or replayed from a CUDA graph.

    ``graphed``: None (eager), "inside" (autocast inside the captured callable: the graph's backward
    is the eager one's) or "around" (``make_graphed_callables`` called under autocast, as torch's
    documentation shows: the backward is captured under autocast too, so the expansion's transposed
    GEMM runs in bf16, as it would in an eager ``backward()`` called inside the autocast block).
    """
    module = _build(case, device, library).train()
    tin = _types(case)[0]
    torch.manual_seed(1)
    x = torch.randn(case.batch, tin.size, case.size, case.size).to(device).requires_grad_(case.kind == "group")
    params = list(module.parameters())
    # autocast's weight cache is off: a graph cannot replay the cache's Python-side bookkeeping
    ac = {"device_type": device, "dtype": torch.bfloat16, "enabled": bf16, "cache_enabled": False}
    call: Any = _Autocast(module, ac)
    gc.disable()  # (no garbage collection, hence no freeing of an older graph, during the capture)
    try:
        if graphed == "inside":
            call = torch.cuda.make_graphed_callables(call, (x,))
        elif graphed == "around":
            with torch.autocast(**ac):
                call = torch.cuda.make_graphed_callables(module, (x,))
    finally:
        gc.enable()
    with torch.no_grad():
        out = _Autocast(module, ac)(x)
    grad = torch.randn(out.shape).to(device=device, dtype=out.dtype)  # (made on the CPU, as the suite's)

    def step() -> None:
        for p in params:
            p.grad = None
        x.grad = None
        if graphed == "around":
            with torch.autocast(**ac):
                out = call(x)
        else:
            out = call(x)
        out.backward(grad)

    return {"step": step, "module": module, "x": x}


def _check(eager: dict[str, Any], graphed: dict[str, Any]) -> float:
    """The largest relative difference of the weight and input gradients after one step of each."""
    errs = []
    for c in (eager, graphed):
        c["step"]()
    _sync("cuda")
    pairs = [(a.grad, b.grad) for a, b in zip(eager["module"].parameters(), graphed["module"].parameters())]
    if eager["x"].grad is not None:
        pairs.append((eager["x"].grad, graphed["x"].grad))
    for a, b in pairs:
        errs.append(float((a.float() - b.float()).norm() / a.float().norm().clamp_min(1e-30)))
    return max(errs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cases", nargs="+", default=["C8 tiny", "C4 gpu", "C8 gpu", "C16 gpu", "D4 gpu", "D8 gpu"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--target-ms", type=float, default=20.0, help="length of one timed sample")
    ap.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args()
    dev = args.device
    graphs = dev == "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False  # torch's defaults, stated: the suite's settings
    print(f"# Training steps, eager and as CUDA graphs ({dev}, torch {torch.__version__})\n")
    if dev == "cuda":
        print(f"- GPU: {torch.cuda.get_device_name(0)}; cuDNN TF32 {torch.backends.cudnn.allow_tf32}, matmul TF32 off")
    print(f"- command: `{' '.join(sys.argv)}`; {args.rounds} interleaved rounds, medians of per-round ratios\n")
    head = "| case | mode | plain ms | eqcnn ms | eqcnn/plain |"
    if graphs:
        head += " plain graphed ms | eqcnn graphed ms | eqcnn/plain graphed | eqcnn graphed/plain eager |"
        head += " rel err eqcnn / plain | rel err eqcnn, autocast around the capture |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    rows = []
    for case in cases_for("full", args.cases, dev):
        for bf16 in (False, True):
            names = ["plain", "eqcnn"] + (["plain graphed", "eqcnn graphed"] if graphs else [])
            # the graphs of earlier candidates are freed here, not by the garbage collector in the middle
            # of a later capture (which invalidates that capture: "operation not permitted when stream is
            # capturing", then cuDNN's CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH)
            gc.collect()
            _sync(dev)
            cands = {n: _candidate(case, dev, n.split()[0], bf16, "inside" if "graphed" in n else None) for n in names}
            err = _check(cands["eqcnn"], cands["eqcnn graphed"]) if graphs else float("nan")
            err_plain = _check(cands["plain"], cands["plain graphed"]) if graphs else float("nan")
            around = float("nan")
            if graphs and bf16:
                other = _candidate(case, dev, "eqcnn", bf16, "around")
                around = _check(cands["eqcnn"], other)
                del other
                gc.collect()
            for c in cands.values():  # warm-up
                for _ in range(3):
                    c["step"]()
            once = _time(cands["plain"]["step"], 3, dev)
            inner = max(1, min(1000, round(args.target_ms / 1e3 / max(once, 1e-6))))
            times: dict[str, list[float]] = {n: [] for n in names}
            for r in range(args.rounds):
                for n in names[r % len(names) :] + names[: r % len(names)]:
                    times[n].append(_time(cands[n]["step"], inner, dev))

            def ratio(a: str, b: str) -> float:
                return statistics.median(x / y for x, y in zip(times[a], times[b]))  # noqa: B023

            med = {n: 1e3 * statistics.median(t) for n, t in times.items()}
            mode = "bf16 autocast" if bf16 else "fp32"
            line = f"| {case.name} | {mode} | {med['plain']:.3f} | {med['eqcnn']:.3f} | {ratio('eqcnn', 'plain'):.3f} |"
            row = {"case": case.name, "mode": mode, "inner": inner, "median_ms": med, "times_s": times}
            row["eqcnn/plain"] = ratio("eqcnn", "plain")
            if graphs:
                row["graphed eqcnn/plain"] = ratio("eqcnn graphed", "plain graphed")
                row["graphed eqcnn/eager plain"] = ratio("eqcnn graphed", "plain")
                row["max_rel_err"] = {"eqcnn": err, "plain": err_plain, "eqcnn, autocast around": around}
                line += (
                    f" {med['plain graphed']:.3f} | {med['eqcnn graphed']:.3f} | {row['graphed eqcnn/plain']:.3f} |"
                    f" {row['graphed eqcnn/eager plain']:.3f} | {err:.1e} / {err_plain:.1e} | {around:.1e} |"
                )
            print(line, flush=True)
            rows.append(row)
            del cands
    if args.out is not None:
        args.out.write_text(json.dumps({"argv": sys.argv, "device": dev, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
