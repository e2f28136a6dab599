"""An equivariant dense-prediction model: a small U-Net whose output map turns with its input.

The network labels every pixel of a digit image (background or the digit's
class). Its output is 11 scalar fields (one logit map per label), so for an
equivariant network ``model(rotate(x)) == rotate(model(x))``: exactly for
90-degree turns, approximately for 45 degrees with Cyclic(8). The same code
with ``Trivial()`` is an ordinary U-Net, whose map does not turn with its input.

Each layer keeps the grid symmetric about the centre of the 29x29 input
(3x3 max pool with stride 2: ``(29 - 3) % 2 == 0``; bilinear upsampling to a
given size is symmetric for every size), so nothing breaks the 90-degree case.

    python examples/segmentation.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import eqcnn
from eqcnn import nn as enn
from eqcnn.datasets import load_digits
from eqcnn.testing import equivariance_error

BACKGROUND = 10  # label of background pixels; digits keep their class 0..9


class TinyUNet(enn.EquivariantModule):
    """Encoder (29 -> 14), decoder (14 -> 29), a skip connection, per-pixel logits.

    Shapes: ``(B, 1, 29, 29) -> (B, classes, 29, 29)``.
    """

    def __init__(self, G: eqcnn.PointGroup, fields: int = 4, classes: int = 11) -> None:
        super().__init__()
        t0, t1, t2 = G.trivial(1), G.regular(fields), G.regular(2 * fields)
        self.in_type, self.out_type = t0, G.trivial(classes)
        self.enc = enn.Sequential(enn.Conv2d(t0, t1, 5, padding=2, bias=False), enn.BatchNorm2d(t1), enn.ELU(t1))
        self.down = enn.Sequential(
            enn.MaxPool2d(t1, 3, stride=2),  # 29 -> 14
            enn.Conv2d(t1, t2, 5, padding=2, bias=False),
            enn.BatchNorm2d(t2),
            enn.ELU(t2),
            enn.Upsample(t2, size=29, mode="bilinear"),  # 14 -> 29
        )
        cat = t1 + t2  # the skip connection concatenates the fields
        self.head = enn.Sequential(
            enn.Conv2d(cat, t1, 3, padding=1, bias=False),
            enn.BatchNorm2d(t1),
            enn.ELU(t1),
            enn.Conv2d(t1, self.out_type, 1),  # regular -> scalar fields: a 1x1 conv is enough
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.enc(x)
        return self.head(torch.cat([skip, self.down(skip)], dim=1))


def pixel_labels(images: torch.Tensor, digits: torch.Tensor) -> torch.Tensor:
    """Per-pixel targets: the digit's class where the ink is brighter than 0.3, else BACKGROUND."""
    ink = images[:, 0] > 0.3
    return torch.where(ink, digits[:, None, None], torch.full_like(digits[:, None, None], BACKGROUND))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps (for CI)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    steps, batch = (8, 32) if args.quick else (300, 32)
    x, digits = load_digits("train", limit=batch * steps if args.quick else None)
    y = pixel_labels(x, digits)
    x_test, d_test = load_digits("test", limit=200)
    y_test = pixel_labels(x_test, d_test)
    probe = x_test[:4]

    head = ("group", "params", "train s", "pixel acc", "acc 90 deg", "err 90 deg", "err 45 deg")
    print(f"{head[0]:<12} {head[1]:>7} {head[2]:>8} {head[3]:>10} " + " ".join(f"{h:>11}" for h in head[4:]))
    for G in (eqcnn.Trivial(), eqcnn.Cyclic(8)):
        torch.manual_seed(0)
        model = TinyUNet(G, fields=8 if G.order == 1 else 4)  # about 5,300 parameters each
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        gen = torch.Generator().manual_seed(0)
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
        with torch.no_grad():
            acc = (model(x_test).argmax(1) == y_test).float().mean().item()
            turned = torch.rot90(x_test, 1, dims=(-2, -1))
            acc90 = (model(turned).argmax(1) == torch.rot90(y_test, 1, dims=(-2, -1))).float().mean().item()
        err90 = equivariance_error(model, probe, 90.0).rel_l2
        err45 = equivariance_error(model, probe, 45.0).rel_l2
        params = sum(p.numel() for p in model.parameters())
        row = f"{G!r:<12} {params:>7} {seconds:>8.1f} {100 * acc:>9.1f}% {100 * acc90:>10.1f}%"
        print(row + f" {err90:>11.1e} {err45:>11.1e}")
    print("\nerr = |model(g x) - g model(x)| / |g model(x)| on test digits (45 degrees: inside the disk).")


if __name__ == "__main__":
    main()
