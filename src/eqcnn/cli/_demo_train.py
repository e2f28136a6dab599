"""Training and evaluation loops of the demo, with tqdm progress bars on stderr."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

import torch
from torch import nn

__all__ = ["ProgressBar", "accuracy", "predict", "train_classifier"]


class ProgressBar:
    """A progress bar for ``total`` steps: tqdm's (bar, rate, ETA, a note such as the loss) on a terminal;
    otherwise (a log file, CI) one line when it finishes, ``label total/total note 3.1s``, so logs stay short.
    The same bars as ``eqcnn train``."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, width: int = 24) -> None:
        self.label = label
        self.total = max(int(total), 1)
        self.stream = stream if stream is not None else sys.stderr
        self.count = 0
        self.start = time.perf_counter()
        self._live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar = None
        if self._live:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=label, file=self.stream, ncols=width + 60, leave=True)

    def line(self, note: str = "") -> str:
        elapsed = time.perf_counter() - self.start
        return f"{self.label} {self.count}/{self.total} {note} {elapsed:.1f}s".replace("  ", " ")

    def update(self, n: int = 1, note: str = "") -> None:
        step = min(self.count + n, self.total) - self.count
        self.count += step
        if self._bar is not None:
            self._bar.update(step)
            if note:
                self._bar.set_postfix_str(note, refresh=False)

    def close(self, note: str = "") -> None:
        if self._bar is not None:
            if note:
                self._bar.set_postfix_str(note)
            self._bar.close()
            return
        self.stream.write(self.line(note) + "\n")
        self.stream.flush()


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    label_smoothing: float = 0.1,
    seed: int = 0,
    label: str = "train",
    stream: TextIO | None = None,
) -> float:
    """Train ``model`` with AdamW, a short linear warm-up then cosine learning-rate decay, and label smoothing.

    Batches are drawn with a generator seeded by ``seed``, so a run repeats
    exactly on the same machine with the same number of threads. Returns the training time in seconds.
    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = images.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    warmup = max(1, total // 20)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    bar = ProgressBar(label, total, stream)
    model.train()
    start = time.perf_counter()
    running = None
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            loss = loss_fn(model(images[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
            bar.update(1, f"loss {running:.3f}")
    seconds = time.perf_counter() - start
    bar.close(f"loss {running:.3f}")
    model.eval()
    return seconds


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Predicted class of each image (``model`` is put in eval mode)."""
    model.eval()
    out = [model(images[i : i + batch_size]).argmax(dim=1) for i in range(0, images.shape[0], batch_size)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of ``images`` that ``model`` (put in eval mode) classifies correctly."""
    return float((predict(model, images, batch_size) == labels).float().mean()) if labels.numel() else 0.0
