"""The Fourier nonlinearity's equivariance error between grid angles, against the number of samples N.

Fibres only (1x1 images, so no pixel is resampled): for random band-limited fields x and angles g off
the sampling grid, the relative error |act(rho(g) x) - rho(g) act(x)| / |act(x)|, in float64.

    .venv/bin/python benchmarks/fourier_sampling.py
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import eqcnn
from eqcnn import nn as enn


def error(group, N: int, function: str, n_fields: int = 64, n_angles: int = 32, seed: int = 0) -> float:
    t = group.bl_regular(n_fields)
    act = enn.FourierPointwise(t, function, N=N).double()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, t.size, 1, 1, generator=g, dtype=torch.float64)
    worst = 0.0
    for a in torch.rand(n_angles, generator=g, dtype=torch.float64).tolist():
        el = group.rotation_by(360.0 * a)
        m = torch.as_tensor(t.fibre_matrix(el))
        lhs = act(torch.einsum("ij,bjhw->bihw", m, x))
        rhs = torch.einsum("ij,bjhw->bihw", m, act(x))
        worst = max(worst, float((lhs - rhs).norm() / rhs.norm()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-frequency", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--function", default="elu")
    args = parser.parse_args()
    ns = [8, 12, 16, 24, 32, 64, 128]
    print(f"| L | group | {' | '.join(f'N={n}' for n in ns)} |")
    print(f"|---|---|{'---|' * len(ns)}")
    for L in args.max_frequency:
        for G in (eqcnn.SO2(L), eqcnn.O2(L)):
            cells = [f"{error(G, n, args.function):.1e}" if n >= 2 * L + 1 else "-" for n in ns]
            print(f"| {L} | {G!r} | {' | '.join(cells)} |")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
