"""The field's benchmark, on MNIST-rot's protocol rebuilt from MNIST (``mnist-rot-eqcnn-v1``, docs/datasets.md).

Trains each model with ``eqcnn.training.train`` for ``--seeds`` seeds and writes a table: parameters, test
error (mean +- std over seeds, 50,000 test digits), time per epoch, next to the published errors of other
models **on the original MNIST-rot files** (figures from the papers, not measured here).

    .venv/bin/python benchmarks/rotated_digits.py                          # cnn, c8, c16; 3 seeds
    .venv/bin/python benchmarks/rotated_digits.py --models c8 --seeds 1 --epochs 8 --width 0.5
    .venv/bin/python benchmarks/rotated_digits.py --models cnn c8 c16 d16-c16 so2 --epochs 40 --device cuda

Each run keeps its checkpoint in ``--out/<model>-seed<seed>``; running again resumes unfinished runs and
re-reads finished ones.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from eqcnn.training import TrainConfig, train

# test error (%) on the original MNIST-rot (Larochelle et al. 2007), as published
PUBLISHED = {
    "P4CNN (Cohen & Welling 2016)": 2.28,
    "H-Net (Worrall et al. 2017)": 1.69,
    "SFCNN (Weiler et al. 2018)": 0.714,
    "e2cnn D16|5 C16 (Weiler & Cesa 2019)": 0.682,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["cnn", "c8", "c16"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--augment-rotation", action="store_true")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/rotated_digits"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for model in args.models:
        runs = []
        for seed in range(args.seeds):
            cfg = TrainConfig(
                model=model, epochs=args.epochs, width=args.width, batch_size=args.batch_size, lr=args.lr,
                augment_rotation=args.augment_rotation, seed=seed, device=args.device,
            )  # fmt: skip
            runs.append(train(cfg, args.out / f"{model}-seed{seed}", resume=True))
        errs = [100 * r.test_error for r in runs]
        rows.append({
            "model": model,
            "parameters": runs[0].parameters,
            "test_error_mean": statistics.mean(errs),
            "test_error_std": statistics.stdev(errs) if len(errs) > 1 else 0.0,
            "errors": errs,
            "seconds_per_epoch": statistics.median(r.seconds_per_epoch for r in runs),
            "worst_angle_accuracy": min(min(r.angle_accuracy.values()) for r in runs),
            "device": runs[0].device,
        })  # fmt: skip
    report = {
        "command": "benchmarks/rotated_digits.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items() if v not in (None, False)
        ),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "budget": f"{args.epochs} epochs of 10,000 digits, batch {args.batch_size}, width {args.width}",
        "rows": rows,
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        f"# MNIST-rot protocol (mnist-rot-eqcnn-v1), {report['budget']}",
        "",
        f"- command: `{report['command']}`",
        f"- date: {report['date']}; machine: {report['machine']}",
        "",
        "| model | parameters | test error (%) | seeds | time per epoch | worst accuracy over 15-degree turns |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        err = f"{r['test_error_mean']:.2f}" + (f" +- {r['test_error_std']:.2f}" if len(r["errors"]) > 1 else "")
        worst = f"{100 * r['worst_angle_accuracy']:.2f}%"
        lines.append(
            f"| {r['model']} | {r['parameters']:,} | {err} | {len(r['errors'])} | "
            f"{r['seconds_per_epoch']:.0f} s ({r['device']}) | {worst} |"
        )
    lines += ["", "Published, on the original MNIST-rot files (not measured here):", "",
              "| model | test error (%) |", "|---|---|"]  # fmt: skip
    lines += [f"| {k} | {v} |" for k, v in PUBLISHED.items()]
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
