"""``eqcnn train``: train a named model on MNIST-rot's protocol (or the bundled digits), with checkpoints."""

from __future__ import annotations

import argparse
import json
import sys

from ._main import UsageError

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..training import MODEL_NAMES, SCHEDULES

    p.add_argument(
        "model", choices=MODEL_NAMES, help="the model: cnn (plain), c8, c16, d16-c16 (e2cnn's D16|5 C16), so2"
    )
    p.add_argument(
        "--data",
        choices=("mnist-rot", "digits"),
        default="mnist-rot",
        help="mnist-rot: MNIST-rot's protocol rebuilt from MNIST (built on first use); digits: the bundled 5,000",
    )
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64, help="the learning rate scales with batch-size / base-batch")
    p.add_argument("--base-batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW's learning rate at --base-batch")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--schedule", choices=SCHEDULES, default="cosine")
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--mixup", type=float, default=0.0, help="Beta(a, a) mixup of the batch (0: off)")
    p.add_argument("--augment-rotation", action="store_true", help="turn each training digit by a random angle")
    p.add_argument("--no-amp", action="store_true", help="no bf16 autocast on a GPU")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--match", choices=("fields", "channels", "params"), default="params")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-train", type=int, default=0, help="use the first N training digits (0: all)")
    p.add_argument("--limit-test", type=int, default=0, help="use the first N validation and test digits (0: all)")
    p.add_argument("--angle-step", type=float, default=15.0, help="also test at every multiple of this angle")
    p.add_argument("--angle-samples", type=int, default=2000, help="test digits for the angle evaluation (0: all)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--out", default=None, help="output folder (default runs/MODEL-seedSEED)")
    p.add_argument("--resume", action="store_true", help="continue from the output folder's checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..training import CheckpointError, TrainConfig, TrainingError, train

    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    try:
        config = TrainConfig(
            model=args.model, data=args.data, epochs=args.epochs, batch_size=args.batch_size,
            base_batch=args.base_batch, lr=args.lr, weight_decay=args.weight_decay, schedule=args.schedule,
            warmup_epochs=args.warmup_epochs, label_smoothing=args.label_smoothing, mixup=args.mixup,
            augment_rotation=args.augment_rotation, amp=not args.no_amp, width=args.width, match=args.match,
            seed=args.seed, limit_train=args.limit_train, limit_test=args.limit_test, angle_step=args.angle_step,
            angle_samples=args.angle_samples, device=args.device,
        )  # fmt: skip
    except (TypeError, ValueError) as err:
        import re  # name the option, not the config field: `batch_size` -> --batch-size

        raise UsageError(re.sub(r"`(\w+)`", lambda m: "--" + m.group(1).replace("_", "-"), str(err))) from None
    try:
        result = train(config, args.out, resume=args.resume, progress=not args.quiet)
    except CheckpointError as err:
        raise UsageError(str(err)) from None
    except TrainingError as err:
        print(f"eqcnn train: {err}", file=sys.stderr)
        return 1
    if not result.history or len(result.history) < config.epochs:  # pragma: no cover - only the test hook stops early
        return 1
    summary = {
        "model": config.model,
        "parameters": result.parameters,
        "test_error_percent": round(100 * result.test_error, 3),
        "seconds_per_epoch": round(result.seconds_per_epoch, 2),
        "accuracy_by_angle": {k: round(v, 4) for k, v in result.angle_accuracy.items()},
        "out": result.out_dir,
    }
    print(json.dumps(summary, indent=1))
    return 0
