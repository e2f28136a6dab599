"""Regular -> regular filter expansion: the factored form (eqcnn's default) against the dense basis.

eqcnn expands a regular -> regular filter from its first row, turned by every
group element (``eqcnn.kernels.regular_factors``): GEMMs with a ``(dim, d_in*S)``
generator, an ``(S, N*S)`` stack of spatial actions and the ``(S, k*k)`` spatial
functions, plus one gather.  The alternative is one GEMM with the dense basis
``(dim, N*N*k*k)``.  This script builds the same layer both ways (same weights,
filters equal to float32 rounding), and times, interleaved, in one process:

- ``expand``: the filter expansion alone, forward + backward (fixed random filter gradient);
- ``step``: a training step of the layer, as a ratio to the plain conv2d of the same shape;

and reports the bytes of constants each layer keeps (per dtype and device).

    .venv/bin/python benchmarks/factored_expansion.py [--rounds 9] [--threads 2]
    python3 benchmarks/factored_expansion.py --device cuda     # the CUDA cases (64x64, batch 32)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import eqcnn
import eqcnn.nn._filter_bank as filter_bank
from eqcnn import nn as enn

CASES = [  # group, fields in = out, kernel, size, batch
    (eqcnn.Cyclic(8), 2, 5, 16, 4),
    (eqcnn.Cyclic(8), 16, 5, 32, 16),
    (eqcnn.Cyclic(16), 8, 7, 32, 16),
    (eqcnn.Dihedral(8), 8, 5, 32, 16),
    (eqcnn.Cyclic(16), 16, 7, 16, 8),
]
CUDA_CASES = [  # 64 and 128 channels at 64x64, batch 32 (benchmarks/run.py's "gpu" cases), and a small layer
    (eqcnn.Cyclic(8), 2, 5, 16, 4),
    (eqcnn.Cyclic(4), 16, 5, 64, 32),
    (eqcnn.Cyclic(8), 8, 5, 64, 32),
    (eqcnn.Cyclic(16), 4, 5, 64, 32),
    (eqcnn.Dihedral(8), 4, 5, 64, 32),
    (eqcnn.Cyclic(8), 16, 5, 64, 32),
    (eqcnn.Cyclic(16), 8, 7, 64, 32),
]
DEVICE = "cpu"


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def build(t, k: int, dense: bool) -> enn.Conv2d:
    """The layer with the dense basis or the factored form, whatever the device would choose."""
    saved = filter_bank._Block.dense_on
    filter_bank._Block.dense_on = lambda self, dtype, device: dense or self.factors is None  # type: ignore[method-assign]
    try:
        return enn.Conv2d(t, t, k, padding=k // 2).to(DEVICE)  # (the move re-chooses the form: inside the patch)
    finally:
        filter_bank._Block.dense_on = saved  # type: ignore[method-assign]


def interleaved(fns: dict, rounds: int, target_s: float) -> dict[str, list[float]]:
    for f in fns.values():
        f()
    _sync()
    t0 = time.perf_counter()
    next(iter(fns.values()))()
    _sync()
    inner = max(1, min(1000, round(target_s / max(time.perf_counter() - t0, 1e-6))))
    res: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            _sync()
            t0 = time.perf_counter()
            for _ in range(inner):
                fns[k]()
            _sync()
            res[k].append((time.perf_counter() - t0) / inner)
    return res


def expand_fn(m, gf):
    """The filter expansion alone, forward and backward."""
    w = m.weight

    def f():
        w.grad = None
        m._bank.expand(w).backward(gf)

    return f


def step_fn(m, x, gy):
    """A training step of the layer (input gradient too: a hidden layer)."""
    ps = list(m.parameters())

    def f():
        for p in ps:
            p.grad = None
        x.grad = None
        m(x).backward(gy)

    return f


def ratio(res: dict[str, list[float]], a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(res[a], res[b]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = ap.parse_args()
    global DEVICE
    DEVICE = args.device
    if args.threads:
        torch.set_num_threads(args.threads)
    gpu = f", {torch.cuda.get_device_name(0)}" if DEVICE == "cuda" else ""
    print(
        f"torch {torch.__version__}{gpu}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY "
        f"{os.environ.get('OMP_WAIT_POLICY', 'default')}, load average {os.getloadavg()[0]:.2f}\n"
    )
    print("| case | constants dense / factored (KiB) | expand fwd+bwd dense / factored (us) "
          + "| step / plain: dense | factored |")  # fmt: skip
    print("|---|---|---|---|---|")
    for G, nf, k, size, batch in CUDA_CASES if DEVICE == "cuda" else CASES:
        torch.manual_seed(0)
        t = G.regular(nf)
        fac, den = build(t, k, False), build(t, k, True)
        den.load_state_dict(fac.state_dict())
        diff = (fac.expand_parameters()[0] - den.expand_parameters()[0]).abs().max().item()
        if diff > 1e-5:
            raise SystemExit(f"{G!r} {nf} fields: the two expansions differ by {diff}")
        kib = [sum(x.numel() * x.element_size() for b in m._bank.blocks for x in b.tensors) / 1024 for m in (den, fac)]
        plain = torch.nn.Conv2d(t.size, t.size, k, padding=k // 2).to(DEVICE)
        x = torch.randn(batch, t.size, size, size).to(DEVICE).requires_grad_()  # made on the CPU, then moved
        gy = torch.randn(batch, t.size, size, size).to(DEVICE)
        gf = torch.randn(t.size, t.size, k, k).to(DEVICE)

        e = interleaved({"dense": expand_fn(den, gf), "factored": expand_fn(fac, gf)}, args.rounds, 0.02)
        s = interleaved({k: step_fn(m, x, gy) for k, m in (("plain", plain), ("dense", den), ("factored", fac))},
                        args.rounds, 0.1)  # fmt: skip
        name = f"{G!r} {nf}->{nf} fields k{k} {size}px b{batch}"
        print(
            f"| {name} | {kib[0]:.0f} / {kib[1]:.0f} | {1e6 * statistics.median(e['dense']):.0f} / "
            f"{1e6 * statistics.median(e['factored']):.0f} | {ratio(s, 'dense', 'plain'):.3f} | "
            f"{ratio(s, 'factored', 'plain'):.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
