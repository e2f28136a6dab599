"""Where a tiny layer's training step goes: framework cost per op, and the floor of a fused layer.

The tiny case of the suite (C8, 2 -> 2 regular fields, k=5, 16x16, batch 4)
trains at ~1.3-1.5x the plain conv2d. This script measures, interleaved with
the plain conv in one process:

1. **Cost per op in place**: ``F.conv2d`` on a weight passed through N no-op
   autograd ops (``w * 1.0`` or a pair of views) before the conv, so each op's
   forward and backward runs between conv calls, as the filter expansion does.
2. **The layer** (``eqcnn.nn.Conv2d``) and **a fused floor**: one hand-written
   ``autograd.Function`` doing the expansion (the layer's own factored
   constants), the conv (``aten.convolution_backward`` for its backward) and the
   expansion's transpose in a single autograd node, timed inside: expansion
   forward, conv forward, conv backward, transpose.  Not used by the library
   (no ``torch.func`` or double-backward support, one layer shape only); it
   shows how much of the gap any pure-PyTorch fusion can close.

    .venv/bin/python benchmarks/tiny_overhead.py [--rounds 41]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time

import torch
import torch.nn.functional as F

import eqcnn
from eqcnn import nn as enn

conv_backward = torch.ops.aten.convolution_backward
clock = time.perf_counter


def interleaved(fns: dict, rounds: int, inner: int) -> dict[str, list[float]]:
    for f in fns.values():
        f()
    res: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            t0 = clock()
            for _ in range(inner):
                fns[k]()
            res[k].append((clock() - t0) / inner)
    return res


def fused_layer(conv: enn.Conv2d, timings: dict[str, float]):
    """The layer as one autograd node (regular -> regular, one block, zero padding, stride 1)."""
    blk = conv._bank.single
    if blk is None or not blk.factored or blk.pixels:
        raise SystemExit("fused_layer needs a regular -> regular harmonic Conv2d")
    gen, act, index, spatial = blk.tensors
    inverse = torch.empty_like(index)
    inverse[index] = torch.arange(index.numel())
    no, ni, do, di, dim, n_sp = blk.n_out, blk.n_in, blk.d_out, blk.d_in, blk.dim, blk.n_spatial
    k = conv.kernel_size[0]
    pad = list(conv.padding)
    bias_basis = conv._bias_map.basis

    class Fused(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b):
            t0 = clock()
            rows = torch.mm(w.view(no * ni, dim), gen).view(no * ni * di, n_sp)
            turned = torch.mm(rows, act).view(no, ni * di * do * n_sp)
            coeffs = turned.index_select(1, index).view(no * do * ni * di, n_sp)
            filt = torch.mm(coeffs, spatial).view(no * do, ni * di, k, k)
            bias = torch.mv(bias_basis, b)
            t1 = clock()
            ctx.save_for_backward(x, filt)
            y = F.conv2d(x, filt, bias, 1, pad)
            timings["forward: expansion"] += t1 - t0
            timings["forward: conv"] += clock() - t1
            return y

        @staticmethod
        def backward(ctx, gy):
            t0 = clock()
            x, filt = ctx.saved_tensors
            gx, gf, gbias = conv_backward(
                gy, x, filt, [filt.shape[0]], [1, 1], pad, [1, 1], False, [0, 0], 1, [True, True, True]
            )
            t1 = clock()
            gc = torch.mm(gf.reshape(no * do * ni * di, k * k), spatial.t()).view(no, -1)
            gt = gc.index_select(1, inverse).view(no * ni * di, do * n_sp)
            gr = torch.mm(gt, act.t()).view(no * ni, di * n_sp)
            gw = torch.mm(gr, gen.t()).view(-1)
            gb = torch.mv(bias_basis.t(), gbias)
            timings["backward: conv"] += t1 - t0
            timings["backward: transpose"] += clock() - t1
            return gx, gw, gb

    return Fused.apply


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=41)
    ap.add_argument("--inner", type=int, default=40)
    args = ap.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY "
        f"{os.environ.get('OMP_WAIT_POLICY', 'default')}, load average {os.getloadavg()[0]:.2f}"
    )
    torch.manual_seed(0)
    G = eqcnn.Cyclic(8)
    t = G.regular(2)
    layer = enn.Conv2d(t, t, 5, padding=2)
    plain = torch.nn.Conv2d(t.size, t.size, 5, padding=2)
    x = torch.randn(4, t.size, 16, 16, requires_grad=True)
    gy = torch.randn(4, t.size, 16, 16)
    W, B = plain.weight, plain.bias
    w, b = layer.weight, layer.bias
    timings: dict[str, float] = collections.defaultdict(float)
    fused = fused_layer(layer, timings)
    err = (fused(x, w, b) - layer(x)).abs().max().item()
    if err > 1e-5:
        raise SystemExit(f"the fused layer differs from Conv2d by {err}")

    def step(forward, params):
        def f():
            for p in params:
                p.grad = None
            x.grad = None
            forward().backward(gy)

        return f

    def muls(n):
        def f():
            v = W
            for _ in range(n):
                v = v * 1.0
            return F.conv2d(x, v, B, 1, 2)

        return f

    def views(n):
        def f():
            v = W
            for _ in range(n // 2):
                v = v.view(-1).view(W.shape)
            return F.conv2d(x, v, B, 1, 2)

        return f

    fns = {
        "plain conv": step(lambda: plain(x), [W, B]),
        "+ 1 mul": step(muls(1), [W, B]),
        "+ 10 muls": step(muls(10), [W, B]),
        "+ 10 views": step(views(10), [W, B]),
        "eqcnn Conv2d": step(lambda: layer(x), [w, b]),
        "fused floor": step(lambda: fused(x, w, b), [w, b]),
    }
    res = interleaved(fns, args.rounds, args.inner)
    print("\n| candidate | us per step | ratio to plain |\n|---|---|---|")
    for k, v in res.items():
        r = statistics.median(a / p for a, p in zip(v, res["plain conv"]))
        print(f"| {k} | {1e6 * statistics.median(v):.0f} | {r:.3f} |")
    timings.clear()
    n = 2000
    for _ in range(n):
        fns["fused floor"]()
    print("\nInside the fused floor, per step (us):", {k: round(1e6 * v / n, 1) for k, v in timings.items()})


if __name__ == "__main__":
    main()
