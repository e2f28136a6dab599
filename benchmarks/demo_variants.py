"""The demo's upright protocol for variants of its network: where a trained C8 model loses accuracy at 45 degrees.

Trains the demo's digit classifier (eqcnn/cli/_demo_model.py: 5 epochs on the 4,000 bundled
training digits, seed 0 unless ``--seed``, the demo's optimiser) with the changes named by ``VARIANT`` (joined by
``+``), then tests it on the 1,000 test digits turned by every multiple of 15 degrees. Prints one
JSON line (parameters, training seconds, upright / mean / worst accuracy, every angle) and appends
it to ``--out``.

Changes: ``nomax`` (blur pooling without the 3x3 max), ``inblur`` (a 3x3 binomial blur of the
input), ``k5last`` (the last conv 5x5), ``aaelu`` (``AntiAliased(ELU, factor, sigma)``, see
``--factor`` and ``--sigma``), ``lowband`` (``basis="lowpass"``), ``latepool`` (the first pool
after the second conv), ``up2`` (the input upsampled to 57x57 first), ``diskpool`` (the global
average over the inscribed disk), ``gausspool`` (``GaussianAvgPool2d``, ``--spread``),
``mask`` (the input times that disk), ``nohbn`` (no batch norm in the head), ``crossmax`` (a
plus-shaped max window), ``k7first`` (the lifting conv 7x7), ``aamax`` (each pool's max taken over a
disk on a twice finer grid, then blurred back, like ``AntiAliased``); a group: ``c8`` (default) or ``c16``.

    .venv/bin/python benchmarks/demo_variants.py none
    .venv/bin/python benchmarks/demo_variants.py aaelu+lowband+k5last --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import eqcnn
from eqcnn import nn as enn
from eqcnn.cli._demo_model import count_parameters
from eqcnn.cli._demo_train import accuracy, train_classifier
from eqcnn.datasets import load_digits
from eqcnn.nn._plain import blur_image, gaussian_taps, upsample_image

CHANGES = {
    "none",
    "nomax",
    "inblur",
    "k5last",
    "aaelu",
    "lowband",
    "latepool",
    "up2",
    "diskpool",
    "gausspool",
    "mask",
    "nohbn",
    "crossmax",
    "k7first",
    "aamax",
    "c8",
    "c16",
}


def _disk(size: int) -> torch.Tensor:
    """A disk of radius ``size / 2`` about the centre of a ``size x size`` grid, its edge one pixel wide."""
    c = (size - 1) / 2
    r = torch.hypot(*torch.meshgrid(torch.arange(size) - c, torch.arange(size) - c, indexing="ij"))
    return (size / 2 - r).clamp(0, 1)


class _DiskMean(nn.Module):
    """The mean of each channel over the disk inscribed in the (square) map: ``(B, C, H, H) -> (B, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = _disk(x.shape[-1]).to(x)
        return (x * w).sum((-2, -1)) / w.sum()


class _CrossMax(enn.EquivariantModule):
    """The max over each pixel and its four neighbours (a plus-shaped window; -inf outside the image)."""

    def __init__(self, t) -> None:
        super().__init__()
        self.in_type = self.out_type = t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = F.pad(x, (1, 1, 1, 1), value=float("-inf"))
        h, w = x.shape[-2:]
        parts = [p[..., 1 : h + 1, 1 : w + 1], p[..., :h, 1 : w + 1], p[..., 2:, 1 : w + 1]]
        parts += [p[..., 1 : h + 1, :w], p[..., 1 : h + 1, 2:]]
        return torch.stack(parts).amax(0)


class _DiskMaxFine(enn.EquivariantModule):
    """The max over a disk of radius sqrt(5) fine pixels (about 1.1 input pixels) on the bicubically 2x upsampled
    map, blurred (``sigma`` input pixels) and sampled back: a max pool with a round footprint whose new high
    frequencies are low-passed before they alias. The disk is the union of a 5x3 and a 3x5 rectangle."""

    def __init__(self, t, sigma: float) -> None:
        super().__init__()
        self.in_type = self.out_type = t
        self.register_buffer("taps", gaussian_taps(2 * sigma), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = upsample_image(x, 2)
        m = torch.maximum(F.max_pool2d(u, (3, 5), 1, (1, 2)), F.max_pool2d(u, (5, 3), 1, (2, 1)))
        return blur_image(m, 2, self.taps)


class _InputMask(nn.Module):
    """The input times the disk inscribed in it (escnn's ``MaskModule`` without its margin)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * _disk(x.shape[-1]).to(x)


class _Upsample57(enn.EquivariantModule):
    """The 29x29 input bicubically to 57x57 (every other pixel an input pixel)."""

    def __init__(self, t) -> None:
        super().__init__()
        self.in_type = self.out_type = t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(57, 57), mode="bicubic", align_corners=True)


def build(
    group, width: int, flags: set[str], head: int = 64, sigma: float = 0.75, factor: int = 2, spread: float = 0.25
) -> enn.Sequential:
    def act(t):
        return enn.AntiAliased(enn.ELU(t), factor=factor, sigma=sigma) if "aaelu" in flags else enn.ELU(t)

    def block(t_in, fields: int, k: int) -> list[nn.Module]:
        t_out = t_in.group.regular(fields)
        basis = "lowpass" if "lowband" in flags else "auto"
        conv = enn.Conv2d(t_in, t_out, k, padding=k // 2, bias=False, basis=basis)
        return [conv, enn.BatchNorm2d(t_out), act(t_out)]

    def pool(t) -> list[nn.Module]:
        if "nomax" in flags:
            return [enn.BlurPool2d(t, stride=2)]
        if "crossmax" in flags:
            return [_CrossMax(t), enn.BlurPool2d(t, stride=2)]
        if "aamax" in flags:
            return [_DiskMaxFine(t, sigma), enn.BlurPool2d(t, stride=2)]
        return [enn.MaxPool2d(t, 3, stride=1, padding=1), enn.BlurPool2d(t, stride=2)]

    g = group
    layers: list[nn.Module] = []
    if "mask" in flags:
        layers += [_InputMask()]
    if "inblur" in flags:
        layers += [enn.BlurPool2d(g.trivial(1), stride=1)]
    if "up2" in flags:
        layers += [_Upsample57(g.trivial(1))]
    if "latepool" in flags or "up2" in flags:
        layers += block(g.trivial(1), width, 5)
        if "up2" in flags:
            layers += pool(g.regular(width))
        layers += block(g.regular(width), width, 5)
        if "latepool" in flags and "up2" not in flags:
            layers += pool(g.regular(width))
        layers += block(g.regular(width), 2 * width, 5)
    else:
        layers += block(g.trivial(1), width, 7 if "k7first" in flags else 5) + pool(g.regular(width))
        layers += block(g.regular(width), width, 5) + block(g.regular(width), 2 * width, 5)
    layers += pool(g.regular(2 * width))
    layers += block(g.regular(2 * width), 4 * width, 5 if "k5last" in flags else 3)
    layers += [enn.GroupPool(g.regular(4 * width))]
    if "diskpool" in flags:
        layers += [_DiskMean()]
    elif "gausspool" in flags:
        layers += [enn.GaussianAvgPool2d(g.trivial(4 * width), spread), nn.Flatten()]
    else:
        layers += [enn.AdaptiveAvgPool2d(g.trivial(4 * width), 1), nn.Flatten()]
    if "nohbn" in flags:
        layers += [nn.Linear(4 * width, head), nn.ELU(), nn.Linear(head, 10)]
    else:
        layers += [nn.Linear(4 * width, head, bias=False), nn.BatchNorm1d(head), nn.ELU(), nn.Linear(head, 10)]
    return enn.Sequential(*layers, in_type=g.trivial(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant", help="changes joined by '+', e.g. aaelu+lowband, or 'none'")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sigma", type=float, default=0.75, help="aaelu's blur, in input pixels (default 0.75)")
    ap.add_argument("--factor", type=int, default=2, help="aaelu's upsampling (1: the blur alone; default 2)")
    ap.add_argument("--seed", type=int, default=0, help="the model's and the batches' seed (the demo's: 0)")
    ap.add_argument("--spread", type=float, default=0.25, help="gausspool's standard deviation / map size")
    ap.add_argument("--out", default="benchmarks/results/rotation45/demo_variants_session.jsonl")
    args = ap.parse_args()
    flags = set(args.variant.split("+"))
    if flags - CHANGES:
        ap.error(f"unknown changes {sorted(flags - CHANGES)}; choose from {sorted(CHANGES)}")
    torch.set_num_threads(args.threads)
    group, width = (eqcnn.Cyclic(16), 3) if "c16" in flags else (eqcnn.Cyclic(8), 4)
    x_train, y_train = load_digits("train")
    _, y_test = load_digits("test")
    torch.manual_seed(args.seed)
    model = build(group, width, flags, sigma=args.sigma, factor=args.factor, spread=args.spread)
    with open(os.devnull, "w") as quiet:
        seconds = train_classifier(model, x_train, y_train, epochs=5, seed=args.seed, stream=quiet)
    accs = [accuracy(model, load_digits("test", rotation=15.0 * k)[0], y_test) for k in range(24)]
    row = {
        "variant": args.variant,
        "params": count_parameters(model),
        "train_s": round(seconds),
        "threads": args.threads,
        "seed": args.seed,
        **({"sigma": args.sigma, "factor": args.factor} if "aaelu" in flags else {}),
        **({"spread": args.spread} if "gausspool" in flags else {}),
        "upright": accs[0],
        "mean": sum(accs) / len(accs),
        "worst": min(accs),
        "accs": [round(100 * a, 1) for a in accs],
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(row), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
