"""Beyond the dense limit? A conv over the harmonic basis, then a 1x1 mixing (issue #5, item 5).

Every eqcnn filter is ``K[o, i](p) = sum_f W[o, i, f] psi_f(p)`` over the F
sampled ring x harmonic functions ``psi_f`` of its basis (F = 11 for k=5, 20
for k=7, 33 for k=9, against k*k pixels), so a conv can run in two steps:

1. a depthwise conv of every input channel with the F fixed functions
   (``groups = C_in``, ``C_in -> C_in * F`` channels, cost ``C_in F k^2`` per pixel);
2. a 1x1 conv mixing the ``C_in * F`` responses into ``C_out`` channels
   (cost ``C_out C_in F`` per pixel).

Multiply-adds against the dense conv's ``C_out C_in k^2``: about ``F / k^2``
(0.44 at k=5, 0.41 at k=7, 0.41 at k=9) plus the depthwise step.  This script
times both paths (random weights: the cost does not depend on them) with
interleaved rounds, forward and forward + backward.

    .venv/bin/python benchmarks/two_step.py                 # the CPU cases
    python3 benchmarks/two_step.py --device cuda            # the CUDA cases (64x64, batch 32), fp32 and bf16

On CUDA every timed sample is bracketed by ``torch.cuda.synchronize()`` and
lasts about 20 ms; the cases are timed in fp32 (cuDNN's default TF32 setting
left as it is) and under bf16 autocast.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

N_FUNCTIONS = {5: 11, 7: 20, 9: 33}


CPU_CASES = ((128, 5, 32, 16), (128, 7, 32, 16), (128, 9, 32, 16), (256, 9, 32, 8))
CUDA_CASES = ((128, 5, 64, 32), (128, 9, 64, 32), (256, 5, 64, 32), (256, 9, 64, 32))


def _time(fn, inner: int, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(inner):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / inner


def bench(channels: int, k: int, size: int, batch: int, rounds: int, device: str = "cpu", bf16: bool = False) -> dict:
    nf = N_FUNCTIONS[k]
    torch.manual_seed(0)  # made on the CPU, then moved
    x = torch.randn(batch, channels, size, size).to(device).requires_grad_()
    dense_w = torch.randn(channels, channels, k, k).to(device).requires_grad_()
    psi = torch.randn(channels * nf, 1, k, k).to(device)  # fixed basis functions, one copy per input channel
    mix_w = torch.randn(channels, channels * nf, 1, 1).to(device).requires_grad_()

    def dense():
        return F.conv2d(x, dense_w, padding=k // 2)

    def two_step():
        z = F.conv2d(x, psi, padding=k // 2, groups=channels)
        return F.conv2d(z, mix_w)

    def train(f):
        def step():
            x.grad = dense_w.grad = mix_w.grad = None
            with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
                y = f()
            y.float().sum().backward()

        return step

    def evaluate(f):
        def step():
            with torch.no_grad(), torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
                f()

        return step

    out = {}
    for mode, wrap in (("eval", evaluate), ("train", train)):
        fns = {"dense": wrap(dense), "two_step": wrap(two_step)}
        for fn in fns.values():
            fn()
        # CPU: 2 calls per sample (each is tens of ms); CUDA: about 20 ms of calls per sample
        inner = 2 if device == "cpu" else max(1, min(200, round(0.02 / _time(fns["dense"], 3, device))))
        times = {n: [] for n in fns}
        for r in range(rounds):
            for n in list(fns)[r % 2 :] + list(fns)[: r % 2]:
                times[n].append(_time(fns[n], inner, device))
        out[mode] = {
            "dense_ms": 1000 * statistics.median(times["dense"]),
            "two_step_ms": 1000 * statistics.median(times["two_step"]),
            "ratio": statistics.median(a / b for a, b in zip(times["two_step"], times["dense"])),
        }
    macs_dense = channels * channels * k * k
    macs_two = channels * nf * k * k + channels * channels * nf
    out["mac_ratio"] = macs_two / macs_dense
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = ap.parse_args()
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device is available")
        print(
            f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, "
            f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}"
        )
        cases, precisions = CUDA_CASES, (False, True)
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        cases, precisions = CPU_CASES, (False,)
    print(
        "| C_in = C_out | k | size | batch | dtype | MAC ratio | eval two-step/dense | train two-step/dense "
        "| dense eval ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for channels, k, size, batch in cases:
        for bf16 in precisions:
            r = bench(channels, k, size, batch, args.rounds, args.device, bf16)
            print(
                f"| {channels} | {k} | {size} | {batch} | {'bf16 autocast' if bf16 else 'fp32'} | "
                f"{r['mac_ratio']:.2f} | {r['eval']['ratio']:.2f} | {r['train']['ratio']:.2f} | "
                f"{r['eval']['dense_ms']:.3g} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
