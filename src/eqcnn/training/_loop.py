"""The training loop: AdamW, warm-up then cosine or step decay, label smoothing, mixup, rotation augmentation,
bf16 autocast on a GPU, checkpoints every epoch with exact resume, metrics, and the evaluation at every angle."""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ._config import TrainConfig
from ._models import build_model

__all__ = ["TrainResult", "TrainingError", "evaluate", "load_data", "train"]


class TrainingError(RuntimeError):
    """The run stopped (a NaN loss): the message names the epoch and step, and the last good checkpoint."""


class _Interrupted(Exception):
    """Raised by the ``stop_after`` hook (tests): stands for a run killed in the middle of an epoch."""


@dataclass
class TrainResult:
    """What a finished run measured; also written to ``out_dir/metrics.json``."""

    config: dict[str, Any]
    parameters: int
    history: list[dict[str, float]] = field(default_factory=list)
    test_accuracy: float = float("nan")
    angle_accuracy: dict[str, float] = field(default_factory=dict)
    seconds_per_epoch: float = float("nan")
    device: str = "cpu"
    out_dir: str | None = None

    @property
    def test_error(self) -> float:
        return 1.0 - self.test_accuracy

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["test_error"] = self.test_error
        return d


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("`device` is 'cuda' but torch finds no CUDA device; use 'auto' or 'cpu'")
    return torch.device(name)


def load_data(config: TrainConfig) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{"train", "valid", "test"}`` -> ``(images, labels)`` for the config's data set (CPU tensors)."""
    lim = {"train": config.limit_train or None, "valid": config.limit_test or None, "test": config.limit_test or None}
    if config.data == "mnist-rot":
        from ..datasets import load_mnist_rot

        return {s: load_mnist_rot(s, limit=lim[s]) for s in ("train", "valid", "test")}  # type: ignore[arg-type]
    from ..datasets import load_digits

    x, y = load_digits("train", rotation="random", seed=config.seed)
    xt, yt = load_digits("test", rotation="random", seed=10_000 + config.seed)
    out = {"train": (x[:3500], y[:3500]), "valid": (x[3500:], y[3500:]), "test": (xt, yt)}
    return {s: (a[: lim[s]], b[: lim[s]]) if lim[s] else (a, b) for s, (a, b) in out.items()}


def _schedule(config: TrainConfig, steps_per_epoch: int):
    total = config.epochs * steps_per_epoch
    warmup = min(total, round(config.warmup_epochs * steps_per_epoch))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if config.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        if config.schedule == "step":
            return 0.1 ** sum(progress >= p for p in (0.5, 0.75))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


@torch.no_grad()
def evaluate(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device: Any = "cpu", batch: int = 500
) -> float:
    """The fraction of ``images`` the model (put in eval mode) classifies correctly."""
    model.eval()
    if labels.numel() == 0:
        return float("nan")
    hits = 0
    for i in range(0, len(images), batch):
        out = model(images[i : i + batch].to(device))
        hits += int((out.argmax(1).cpu() == labels[i : i + batch]).sum())
    return hits / labels.numel()


def _rotate(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    from ..datasets._mnist_rot import rotate_batch

    return rotate_batch(images, degrees).clamp_(0, 1).to(images.dtype)


class _Progress:
    """tqdm bars (epochs, and batches with the loss and an ETA) on a terminal; one line per epoch otherwise."""

    def __init__(self, enabled: bool, epochs: int, start: int, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = enabled
        self.live = enabled and bool(getattr(stream, "isatty", lambda: False)())
        self.epochs = None
        if self.live:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
            self.epochs = tqdm(total=epochs, initial=start, desc="epochs", unit="epoch", file=stream, position=0)

    def batches(self, total: int, epoch: int):
        if not self.live:
            return None
        return self._tqdm(total=total, desc=f"epoch {epoch}", unit="batch", leave=False, file=self.stream, position=1)

    def epoch_done(self, row: dict[str, float]) -> None:
        text = (
            f"epoch {int(row['epoch'])}: loss {row['train_loss']:.4f}, valid error {100 * row['valid_error']:.2f}%, "
            f"lr {row['lr']:.2e}, {row['seconds']:.1f} s"
        )
        if self.live and self.epochs is not None:
            self.epochs.update(1)
            self.epochs.set_postfix_str(f"valid error {100 * row['valid_error']:.2f}%")
        elif self.enabled:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.epochs is not None:
            self.epochs.close()


def train(
    config: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    stream: TextIO | None = None,
    data: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    stop_after: tuple[int, int] | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``config.data``; write checkpoints, metrics and curves to ``out_dir``.

    Args:
        config: the run (see :class:`TrainConfig`).
        out_dir: where ``checkpoint.pt``, ``metrics.csv``, ``metrics.json`` and ``curves.png`` go
            (default ``runs/<model>-seed<seed>``).
        resume: continue from ``out_dir/checkpoint.pt`` (written at the end of every epoch). A run killed in
            the middle of an epoch resumes at that epoch's start and ends with the weights, metrics and
            predictions of an uninterrupted run of the same seed (on the CPU). The checkpoint must be of the
            same model and protocol (:meth:`TrainConfig.protocol`); otherwise :class:`CheckpointError`.
            Resuming a finished run returns its saved measurements (``metrics.json``) without evaluating again.
        progress: show progress (tqdm bars on a terminal, one line per epoch otherwise).
        stream: where progress goes (default ``sys.stderr``).
        data: the splits, instead of loading ``config.data`` (tests, custom data).
        stop_after: ``(epoch, batch)``: stop as if killed after that batch of that epoch (1-based; tests).

    Raises :class:`TrainingError` on a non-finite loss, naming the epoch and step; the last good checkpoint
    is left as it was.
    """
    stream = stream if stream is not None else sys.stderr
    out = Path(out_dir) if out_dir is not None else Path("runs") / f"{config.model}-seed{config.seed}"
    ckpt_path = out / "checkpoint.pt"
    device = _device(config.device)
    splits = data if data is not None else load_data(config)
    x_train, y_train = splits["train"]
    if len(x_train) == 0:
        raise ValueError("the training split is empty")

    torch.manual_seed(config.seed)
    model = build_model(config.model, width=config.width, match=config.match).to(device)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=config.effective_lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(config, steps_per_epoch))
    gen = torch.Generator().manual_seed(config.seed + 1)
    history: list[dict[str, float]] = []
    start_epoch = 0
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path, config.protocol())
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            gen.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(f"{ckpt_path} does not fit model {config.model!r}: {err}") from None
        history = list(state["history"])
        start_epoch = int(state["epoch"])
    elif resume:
        print(f"no checkpoint in {out}: starting a fresh run", file=stream)

    done = out / "metrics.json"
    if start_epoch == config.epochs and done.is_file():  # a finished run: its measurements, not a second evaluation
        saved = json.loads(done.read_text())
        if _same_but_device(saved.get("config", {}), config):
            result = TrainResult(config.to_dict(), params, history, device=str(device), out_dir=str(out))
            result.test_accuracy = float(saved["test_accuracy"])
            result.angle_accuracy = dict(saved["angle_accuracy"])
            result.seconds_per_epoch = float(saved["seconds_per_epoch"])
            return result

    use_amp = config.amp and device.type == "cuda"
    bar = _Progress(progress, config.epochs, start_epoch, stream)
    try:
        for epoch in range(start_epoch, config.epochs):
            model.train()
            t0 = time.perf_counter()
            order = torch.randperm(len(x_train), generator=gen)
            batches = bar.batches(steps_per_epoch, epoch + 1)
            total_loss, seen, hits = 0.0, 0, 0
            for step, i in enumerate(range(0, len(x_train), config.batch_size)):
                idx = order[i : i + config.batch_size]
                xb, yb = x_train[idx], y_train[idx]
                if config.augment_rotation:
                    xb = _rotate(xb, torch.rand(len(xb), generator=gen, dtype=torch.float64) * 360.0)
                lam, perm = 1.0, None
                if config.mixup > 0:
                    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
                    lam = float(np.random.default_rng(seed).beta(config.mixup, config.mixup))
                    perm = torch.randperm(len(xb), generator=gen)
                    xb = lam * xb + (1 - lam) * xb[perm]
                xb, yb = xb.to(device), yb.to(device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    logits = model(xb)
                    loss = F.cross_entropy(logits.float(), yb, label_smoothing=config.label_smoothing)
                    if perm is not None:
                        loss = lam * loss + (1 - lam) * F.cross_entropy(
                            logits.float(), yb[perm.to(device)], label_smoothing=config.label_smoothing
                        )
                if not torch.isfinite(loss):
                    last = f"{ckpt_path} (after epoch {len(history)})"
                    raise TrainingError(
                        f"the loss is {loss.item()} at epoch {epoch + 1}, step {step + 1}: stopped; "
                        + (f"the last good checkpoint, {last}, is kept" if ckpt_path.exists() else "no checkpoint yet")
                        + " (lower `lr`, or check the data)"
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total_loss += float(loss.detach()) * len(yb)
                seen += len(yb)
                hits += int((logits.argmax(1) == yb).sum())
                if batches is not None:
                    batches.update(1)
                    batches.set_postfix_str(f"loss {total_loss / seen:.4f}")
                if stop_after is not None and (epoch + 1, step + 1) == tuple(stop_after):
                    raise _Interrupted
            if batches is not None:
                batches.close()
            seconds = time.perf_counter() - t0
            xv, yv = splits["valid"]
            valid_acc = evaluate(model, xv, yv, device)
            row = {
                "epoch": epoch + 1,
                "train_loss": total_loss / seen,
                "train_accuracy": hits / seen,
                "valid_accuracy": valid_acc,
                "valid_error": 1.0 - valid_acc,
                "lr": opt.param_groups[0]["lr"],
                "seconds": seconds,
            }
            history.append(row)
            save_checkpoint(
                ckpt_path,
                {
                    "protocol": config.protocol(),
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                },
            )
            _write_history(out, history)
            bar.epoch_done(row)
    except _Interrupted:
        bar.close()
        return TrainResult(config.to_dict(), params, history, device=str(device), out_dir=str(out))
    bar.close()

    x_test, y_test = splits["test"]
    result = TrainResult(config.to_dict(), params, history, device=str(device), out_dir=str(out))
    result.test_accuracy = evaluate(model, x_test, y_test, device)
    result.angle_accuracy = _angle_accuracy(model, x_test, y_test, config, device)
    timed = [r["seconds"] for r in history]
    result.seconds_per_epoch = float(np.median(timed)) if timed else float("nan")
    (out / "metrics.json").write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    _plot_curves(out, history, config)
    return result


def _same_but_device(saved: dict[str, Any], config: TrainConfig) -> bool:
    mine = config.to_dict()
    return {k: v for k, v in saved.items() if k != "device"} == {k: v for k, v in mine.items() if k != "device"}


def _angle_accuracy(model, x, y, config: TrainConfig, device) -> dict[str, float]:
    n = len(x) if config.angle_samples == 0 else min(len(x), config.angle_samples)
    xs, ys = x[:n], y[:n]
    out: dict[str, float] = {}
    k = 0
    while k * config.angle_step < 360 - 1e-9:
        deg = k * config.angle_step
        turned = xs if deg == 0 else _rotate(xs, torch.full((n,), deg, dtype=torch.float64))
        out[f"{deg:g}"] = evaluate(model, turned, ys, device)
        k += 1
    return out


def _write_history(out: Path, history: list[dict[str, float]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "metrics.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def _plot_curves(out: Path, history: list[dict[str, float]], config: TrainConfig) -> None:
    """``curves.png``: training loss and validation error against the epoch (skipped without matplotlib)."""
    try:
        from ..plots._mpl import new_figure
    except ImportError:  # pragma: no cover
        return
    try:
        fig = new_figure(figsize=(8, 3.2), layout="constrained")
    except ImportError:
        return
    ax1, ax2 = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    ax1.plot(epochs, [r["train_loss"] for r in history], marker="o")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax2.plot(epochs, [100 * r["valid_error"] for r in history], marker="o", color="C1")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation error (%)")
    fig.suptitle(f"{config.model} on {config.data} (seed {config.seed})")
    fig.savefig(out / "curves.png", dpi=100)
