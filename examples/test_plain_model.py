"""Test an ordinary PyTorch model with eqcnn's harness: which symmetries does it really have?

``eqcnn.testing`` works on any ``nn.Module``. Here:

1. the feature maps of a plain CNN (``torch.nn`` only) are checked for shifts
   and 90-degree turns: they shift with the input (convolutions) but do not
   turn with it; ``layerwise_errors`` shows where the rotation error appears,
   and the logits are checked for invariance;
2. the same CNN made invariant by averaging over the four 90-degree turns of
   its input (group averaging) passes ``assert_equivariant`` for Cyclic(4).

    python examples/test_plain_model.py [--quick]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import eqcnn
from eqcnn.testing import assert_equivariant, equivariance_report, layerwise_errors


def plain_cnn(channels: int = 16) -> nn.Sequential:
    """An ordinary image classifier: convolutions, ReLU, global average pooling, a linear layer."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 5, padding=2),
        nn.ReLU(),
        nn.Conv2d(channels, channels, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, 10),
    )


class AverageOverTurns(nn.Module):
    """``f(x) = mean_k model(rot90(x, k))``: invariant to 90-degree turns, whatever ``model`` is."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.model(torch.rot90(x, k, dims=(-2, -1))) for k in range(4)]).mean(dim=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller input (for CI)")
    args = parser.parse_args(argv)
    size = 17 if args.quick else 33
    torch.manual_seed(0)
    model = plain_cnn().eval()

    print("1. The feature maps of a plain CNN (model[:4]): do they shift and turn with the input?")
    print(equivariance_report(model[:4], group=eqcnn.Cyclic(4), output="image", size=size, baseline=None))
    print("\nIts logits, checked for invariance under the turns of Cyclic(4):")
    report = equivariance_report(model, group=eqcnn.Cyclic(4), output="invariant", size=size)
    print(report)
    print(f"passed: {report.passed}\n")

    print("Where does the rotation error appear? The error after each layer, for a 90-degree turn:")
    print(layerwise_errors(model, g=90.0, group=eqcnn.Cyclic(4), output="invariant", size=size))

    print("\n2. The same CNN averaged over the four turns of its input:")
    invariant = AverageOverTurns(model).eval()
    report = assert_equivariant(invariant, group=eqcnn.Cyclic(4), output="invariant", size=size)
    print(report)
    print(f"passed: {report.passed}")


if __name__ == "__main__":
    main()
