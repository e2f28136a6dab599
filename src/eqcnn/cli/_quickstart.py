"""``eqcnn quickstart``: the same model code for Trivial, Cyclic(4) and Cyclic(8), and its equivariance errors."""

from __future__ import annotations

import argparse

import torch

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import band_limited_noise, equivariance_error

from ._main import UsageError

MIN_SIZE = 15  # the receptive field of small_model (7 + 5 + 5 - 2): smaller inputs compare only padding


def small_model(G: eqcnn.PointGroup, channels: int = 16) -> enn.Sequential:
    """Three convs with ReLU between them, ending in scalar fields; ``channels`` per hidden layer for every group."""
    hidden = G.regular(max(channels // G.order, 1))
    return enn.Sequential(
        enn.Conv2d(G.trivial(1), hidden, 7, padding=3),
        enn.ReLU(hidden),
        enn.Conv2d(hidden, hidden, 5, padding=2),
        enn.ReLU(hidden),
        enn.Conv2d(hidden, G.trivial(4), 5, padding=2),
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=49, help=f"input image size in pixels, at least {MIN_SIZE} (default 49)")
    p.add_argument("--seed", type=int, default=0, help="random seed for the weights and the input (default 0)")


def run(args: argparse.Namespace) -> int:
    if args.size < MIN_SIZE:
        raise UsageError(f"`--size` must be >= {MIN_SIZE} (the model's receptive field), got {args.size}")
    torch.manual_seed(args.seed)
    x = band_limited_noise((1, 1, args.size, args.size), seed=args.seed, dtype=torch.float64)
    print(f"equivariance error (relative L2) of one model code, {args.size}x{args.size} band-limited input")
    print(f"{'group':<12}{'params':>8}{'0 deg':>10}{'45 deg':>10}{'90 deg':>10}")
    for G in (eqcnn.Trivial(), eqcnn.Cyclic(4), eqcnn.Cyclic(8)):
        model = small_model(G).double()
        params = sum(p.numel() for p in model.parameters())
        errs = [equivariance_error(model, x, float(d)).rel_l2 for d in (0, 45, 90)]
        print(f"{G!r:<12}{params:>8}" + "".join(f"{e:>10.2e}" for e in errs))
    print("45 degrees is compared inside a disk; it is exact for no group (the pixel grid is not symmetric under it).")
    return 0
