"""Factored filter expansion: (weights @ angular coefficients) @ spatial functions, two small GEMMs.

eqcnn's harmonic basis is ``B = M @ Psi``: ``M`` (dim x d_out*d_in*S) mixes the
S sampled ring x harmonic functions ``Psi`` (S x k*k; S = 11 at k=5).  Expanding
through ``M`` then ``Psi`` reads a basis 2.3x smaller than ``B`` and transposes
an (out*in x S) matrix instead of an (out*in x k*k) one.  This script checks
that it gives the same filter (to 1e-7) and times a training step of C8 layers
against the current one-GEMM expansion and the plain conv, interleaved, one
thread.  ``M`` is recovered here from the cached basis by a least-squares fit
to ``Psi`` (exact: residual ~1e-9); in the library it would come from
``eqcnn.kernels`` directly.

Measured (one thread, C8 k=5): tiny layer 1.35 -> 1.27 of the plain conv,
normal layer 1.03 -> 1.01.  But "factored" here calls ``F.conv2d`` directly
while "current" goes through ``Conv2d.forward``; built into ``Conv2d._expand``
(same ops, same module path as "current") it measured 1.357 vs 1.365 and
1.027 vs 1.027, i.e. no gain beyond noise, so it was not kept.

    .venv/bin/python benchmarks/factored_expansion.py
"""

import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

import eqcnn
from eqcnn import nn as enn
from eqcnn.kernels._harmonic import harmonic_factors

torch.set_num_threads(1)


def bench(G, nf: int, k: int, size: int, batch: int) -> None:
    t = G.regular(nf)
    conv = enn.Conv2d(t, t, k, padding=k // 2)
    R = G.regular_representation
    spatial, _ = harmonic_factors(R, R, k)
    Psi = spatial.reshape(len(spatial), k * k)  # (S, kk)
    blk = conv._blocks[0]
    dim = blk["dim"]
    no = ni = nf
    do = di = G.order
    B = conv._buffers[blk["buffer"]].double().numpy().reshape(dim * do * di, k * k)
    M = B @ np.linalg.pinv(Psi)  # (dim*do*di, S)
    print("reconstruction error", np.abs(M @ Psi - B).max(), "S =", len(Psi))
    Mt = torch.tensor(M.reshape(dim, do * di * len(Psi)), dtype=torch.float32)
    Pt = torch.tensor(Psi, dtype=torch.float32)
    S = len(Psi)
    w = conv.weight

    def factored():
        c = (w.view(no * ni, dim) @ Mt).view(no, ni, do, di, S).transpose(1, 2).reshape(no * do * ni * di, S)
        return (c @ Pt).view(no * do, ni * di, k, k)

    f1, _ = conv._expand()
    print("max diff", (factored() - f1).abs().max().item())
    x = torch.randn(batch, t.size, size, size, requires_grad=True)
    g = torch.randn(batch, t.size, size, size)
    bias = conv.bias

    def step_cur():
        w.grad = None
        x.grad = None
        bias.grad = None
        conv(x).backward(g)

    def step_fac():
        w.grad = None
        x.grad = None
        bias.grad = None
        F.conv2d(x, factored(), conv._buffers["_bias_basis"] @ bias, 1, k // 2).backward(g)

    plain = torch.nn.Conv2d(t.size, t.size, k, padding=k // 2)

    def step_plain():
        plain.weight.grad = plain.bias.grad = None
        x.grad = None
        plain(x).backward(g)

    fns = dict(plain=step_plain, current=step_cur, factored=step_fac)
    for f in fns.values():
        f()
    inner = 30 if nf == 2 else 1
    res = {kk: [] for kk in fns}
    for r in range(21 if nf == 2 else 6):
        ks = list(fns)
        ks = ks[r % 3 :] + ks[: r % 3]
        for kk in ks:
            t0 = time.perf_counter()
            for _ in range(inner):
                fns[kk]()
            res[kk].append((time.perf_counter() - t0) / inner)
    print(
        G,
        nf,
        {kk: round(statistics.median(a / b for a, b in zip(v, res["plain"])), 3) for kk, v in res.items()},
        f"plain {1e3 * statistics.median(res['plain']):.2f} ms",
    )


if __name__ == "__main__":
    for case in ((eqcnn.Cyclic(8), 2, 5, 16, 4), (eqcnn.Cyclic(8), 16, 5, 32, 16)):
        bench(*case)
