"""``eqcnn quickstart``: the same model code for Trivial, Cyclic(4) and Cyclic(8)."""

from __future__ import annotations

import argparse
import math

import torch

import eqcnn
from eqcnn import nn as enn
from eqcnn.fields import rotate_pixels


def small_model(G: eqcnn.PointGroup, channels: int = 16) -> torch.nn.Module:
    """Three convs, ReLU between them, ending in scalar fields; ``channels`` per hidden layer for every group."""
    hidden = G.regular(max(channels // G.order, 1))
    return torch.nn.Sequential(
        enn.Conv2d(G.trivial(1), hidden, 7, padding=3),
        torch.nn.ReLU(),
        enn.Conv2d(hidden, hidden, 5, padding=2),
        torch.nn.ReLU(),
        enn.Conv2d(hidden, G.trivial(4), 5, padding=2),
    )


def smooth_image(size: int, seed: int) -> torch.Tensor:
    """Band-limited noise: white noise blurred by a Gaussian of width 2 pixels."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 1, size, size, generator=gen, dtype=torch.float64)
    r = torch.arange(-6, 7, dtype=torch.float64)
    k = torch.exp(-(r**2) / 8.0)
    k = (k[:, None] * k[None, :]) / k.sum() ** 2
    return torch.nn.functional.conv2d(x, k[None, None], padding=6)


def rotation_error(model: torch.nn.Module, x: torch.Tensor, degrees: float) -> float:
    """Relative L2 error of ``model(rotate(x)) - rotate(model(x))`` inside a disk (scalar outputs)."""
    angle = math.radians(degrees)
    with torch.no_grad():
        lhs = model(rotate_pixels(x, angle))
        rhs = rotate_pixels(model(x), angle)
    n = x.shape[-1]
    c = (n - 1) / 2
    i, j = torch.meshgrid(torch.arange(n) - c, torch.arange(n) - c, indexing="ij")
    disk = (i**2 + j**2) <= (n / 2 - 10) ** 2
    return ((lhs - rhs)[..., disk].norm() / rhs[..., disk].norm()).item()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=49, help="input image size (default 49)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def run(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    x = smooth_image(args.size, args.seed)
    print(f"equivariance error (relative L2 inside a disk) of one model, {args.size}x{args.size} input")
    print(f"{'group':<12}{'params':>8}{'0 deg':>10}{'45 deg':>10}{'90 deg':>10}")
    for G in (eqcnn.Trivial(), eqcnn.Cyclic(4), eqcnn.Cyclic(8)):
        model = small_model(G).double().eval()
        params = sum(p.numel() for p in model.parameters())
        errs = [rotation_error(model, x, d) for d in (0, 45, 90)]
        print(f"{G!r:<12}{params:>8}" + "".join(f"{e:>10.2e}" for e in errs))
    return 0
