"""Running a model in eval mode for a measurement, and putting every submodule's mode back afterwards."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["eval_mode"]


class eval_mode:  # lower case: a context manager used like a function
    """Eval mode (and no gradients, unless ``no_grad=False``) inside the ``with`` block.

    On exit each submodule gets back its own mode, not the top module's: a
    frozen batch norm (``eval()``) inside a model that is training stays frozen.
    """

    def __init__(self, model: nn.Module, no_grad: bool = True) -> None:
        self.model, self.no_grad = model, no_grad

    def __enter__(self) -> None:
        self.modes = [(m, m.training) for m in self.model.modules()]  # parents before children
        self.grad = torch.is_grad_enabled()
        if self.no_grad:
            torch.set_grad_enabled(False)
        self.model.eval()

    def __exit__(self, *exc: Any) -> None:
        for m, training in self.modes:  # pre-order: a parent's train() is corrected by its children after it
            if m.training != training:
                m.train(training)
        torch.set_grad_enabled(self.grad)
