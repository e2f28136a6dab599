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

    .venv/bin/python benchmarks/two_step.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

N_FUNCTIONS = {5: 11, 7: 20, 9: 33}


def _time(fn, inner: int) -> float:
    t = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t) / inner


def bench(channels: int, k: int, size: int, batch: int, rounds: int) -> dict:
    nf = N_FUNCTIONS[k]
    x = torch.randn(batch, channels, size, size, requires_grad=True)
    dense_w = torch.randn(channels, channels, k, k, requires_grad=True)
    psi = torch.randn(channels * nf, 1, k, k)  # fixed basis functions, one copy per input channel
    mix_w = torch.randn(channels, channels * nf, 1, 1, requires_grad=True)

    def dense():
        return F.conv2d(x, dense_w, padding=k // 2)

    def two_step():
        z = F.conv2d(x, psi, padding=k // 2, groups=channels)
        return F.conv2d(z, mix_w)

    def train(f):
        def step():
            x.grad = dense_w.grad = mix_w.grad = None
            f().sum().backward()

        return step

    def evaluate(f):
        def step():
            with torch.no_grad():
                f()

        return step

    out = {}
    for mode, wrap in (("eval", evaluate), ("train", train)):
        fns = {"dense": wrap(dense), "two_step": wrap(two_step)}
        for fn in fns.values():
            fn()
        times = {n: [] for n in fns}
        for r in range(rounds):
            for n in list(fns)[r % 2 :] + list(fns)[: r % 2]:
                times[n].append(_time(fns[n], 2))
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
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        "| C_in = C_out | k | size | batch | MAC ratio | eval two-step/dense | train two-step/dense | dense eval ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for channels, k, size, batch in ((128, 5, 32, 16), (128, 7, 32, 16), (128, 9, 32, 16), (256, 9, 32, 8)):
        r = bench(channels, k, size, batch, args.rounds)
        print(
            f"| {channels} | {k} | {size} | {batch} | {r['mac_ratio']:.2f} | {r['eval']['ratio']:.2f} | "
            f"{r['train']['ratio']:.2f} | {r['eval']['dense_ms']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
