"""Volumes without a preferred orientation: 3-D Tetris, a plain 3-D CNN against an octahedral one.

    python examples/volumes.py [--quick] [--plot docs/howto/volumes-accuracy.png]

Eight shapes of four cubes (the "3D Tetris" of the equivariance literature,
two of them mirror images of each other) are drawn on a 9x9x9 voxel grid
(one voxel per cube) near the centre (moved by up to one voxel), with noise.  Both models train on the shapes in one
orientation only, then classify them turned by each of the 24 rotations of
the cube.  The model code is one function of the group: with ``Trivial()``
it is an ordinary 3-D CNN (``Conv3d`` is ``torch.nn.Conv3d``); with
``Octahedral()`` every convolution is octahedral and the logits are exactly
invariant to the 24 rotations, so it is as accurate at every orientation as
upright, while the plain one is right at the orientation it saw.  Both have
about the same number of parameters (``num_fields(..., "params")``).  Rotations
only, not ``FullOctahedral()``: the mirror pair must stay apart.  The data is
generated here, nothing is downloaded.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import eqcnn
from eqcnn import nn as enn
from eqcnn.models import num_fields

SHAPES = {
    "chiral a": [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 1, 0)],
    "chiral b": [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, -1, 0)],
    "square": [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)],
    "line": [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3)],
    "corner": [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)],
    "L": [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)],
    "T": [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 1)],
    "zigzag": [(0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 1, 0)],
}
SIZE, CELL = 9, 1  # grid side (odd: the volume has a centre voxel), voxels per cube side


def draw(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` volumes ``(n, 1, 9, 9, 9)`` per shape, upright, near the centre, with noise; and their labels."""
    xs, ys = [], []
    for label, cubes in enumerate(SHAPES.values()):
        c = torch.tensor(cubes)
        c = c - c.min(dim=0).values
        extent = (c.max(dim=0).values + 1) * CELL
        for _ in range(n):
            v = torch.zeros(SIZE, SIZE, SIZE)
            # centred, moved by up to one voxel each way
            offset = [(SIZE - int(e)) // 2 + int(torch.randint(-1, 2, (1,), generator=gen)) for e in extent]
            for cube in c:
                d, h, w = (int(o + CELL * q) for o, q in zip(offset, cube))
                v[d : d + CELL, h : h + CELL, w : w + CELL] = 1.0
            xs.append(v + 0.1 * torch.randn(v.shape, generator=gen))
            ys.append(label)
    return torch.stack(xs)[:, None], torch.tensor(ys)


def cnn(G: eqcnn.PointGroup, channels: int = 32) -> nn.Module:
    """Two 3x3x3 convs with batch norm, pooled over the group and over space, then a linear classifier."""
    r = G.regular(num_fields(channels, G, "params"))  # Trivial(): 32 channels; Octahedral(): 7 fields of 24
    features = enn.Sequential(
        enn.Conv3d(G.trivial(1), r, 3, padding=1), enn.BatchNorm3d(r), enn.ReLU(r),
        enn.Conv3d(r, r, 3, padding=1), enn.BatchNorm3d(r), enn.ReLU(r),
        enn.GroupPool(r), enn.AdaptiveMaxPool3d(G.trivial(len(r)), 1),
    )  # fmt: skip
    return nn.Sequential(features, nn.Flatten(), nn.Linear(len(r), len(SHAPES)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer shapes and steps (for CI)")
    parser.add_argument("--plot", default=None, help="write the accuracy by rotation to this PNG")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    per_class, steps, batch = (4, 4, 16) if args.quick else (48, 300, 16)
    x, y = draw(per_class, gen)
    x_test, y_test = draw(4 if args.quick else 16, gen)
    G = eqcnn.Octahedral()
    t = G.trivial(1)
    results = {}
    print(f"{'model':<20} {'params':>7} {'train s':>8} {'upright':>8} {'mean 24':>8} {'worst':>7}")
    for group in (eqcnn.Trivial(), G):
        torch.manual_seed(0)
        model = cnn(group)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        start = time.perf_counter()
        model.train()
        for _ in range(steps):
            idx = torch.randint(0, x.shape[0], (batch,), generator=gen)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        model.eval()
        accs = []
        with torch.no_grad():
            for g in G.elements:  # every rotation of the cube, exactly on the grid
                accs.append((model(t.transform(x_test, g)).argmax(1) == y_test).float().mean().item())
        params = sum(p.numel() for p in model.parameters())
        name = f"cnn({group!r})"
        results[name] = accs
        print(
            f"{name:<20} {params:>7} {seconds:>8.1f} {100 * accs[0]:>7.1f}% {100 * sum(accs) / len(accs):>7.1f}% "
            f"{100 * min(accs):>6.1f}%"
        )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 3.2))
        width = 0.4
        for i, (name, accs) in enumerate(results.items()):
            ax.bar([k + (i - 0.5) * width for k in range(len(accs))], [100 * a for a in accs], width, label=name)
        ax.set_xlabel("rotation of the cube (element index of Octahedral(); 0 = as trained)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 105)
        ax.set_xticks(range(len(G.elements)))
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title("3D Tetris, trained upright, tested at the 24 rotations")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
