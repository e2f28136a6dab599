"""``eqcnn demo``: an ordinary CNN and rotation-equivariant CNNs on rotated handwritten digits.

Each model has the same architecture (:mod:`eqcnn.cli._demo_model`) built for
another group, with about the same number of parameters. Two protocols:

1. upright: train on upright digits, test on digits turned by every multiple
   of ``--angle-step`` degrees. A CNN has never seen a turned digit; an
   equivariant model's prediction does not change (exactly for 90-degree turns
   in its group, approximately for the others).
2. MNIST-rot: train and test on digits turned by random angles.

Prints a table, writes ``results.json`` and PNG plots to ``--output-dir``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, cast

import torch

import eqcnn
from eqcnn import nn as enn
from eqcnn.datasets import load_digits

from ._demo_model import build_digit_model, count_parameters, matched_width
from ._demo_train import ProgressBar, accuracy, predict, train_classifier
from ._main import UsageError

__all__ = ["add_arguments", "run"]

GROUPS = {
    "cnn": ("CNN", eqcnn.Trivial),
    "c4": ("C4", lambda: eqcnn.Cyclic(4)),
    "c8": ("C8", lambda: eqcnn.Cyclic(8)),
    "c16": ("C16", lambda: eqcnn.Cyclic(16)),
    "d4": ("D4", lambda: eqcnn.Dihedral(4)),
}
REFERENCE = "c8"  # the other models are sized to this one's parameter count


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Train the same small network as an ordinary CNN and as rotation-equivariant CNNs on 4,000 real "
        "MNIST digits (bundled, no download), then test them on digits turned by every multiple of 15 degrees "
        "and under the MNIST-rot protocol (train and test on randomly turned digits). Prints a table and "
        "writes plots. About 6 minutes on 2 CPU cores; --quick takes well under a minute."
    )
    p.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    p.add_argument("--output-dir", default="demo_output", help="folder for the plots and results.json")
    p.add_argument(
        "--models",
        default="cnn,c8",
        help=f"comma-separated models to train, from: {', '.join(GROUPS)} (cnn is the ordinary CNN)",
    )
    p.add_argument(
        "--width",
        type=int,
        default=4,
        help=f"size of the {REFERENCE} model (regular fields in its first layers); the other models get the width "
        "that matches its parameter count",
    )
    p.add_argument("--epochs", type=int, default=5, help="training epochs per model and protocol")
    p.add_argument("--angle-step", type=float, default=15.0, help="test angles: every multiple of this (degrees)")
    p.add_argument(
        "--protocols",
        default="upright,rotated",
        help="comma-separated: upright (train upright, test turned) and/or rotated (MNIST-rot)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for weights, batches and random angles")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (the time budget assumes 2)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots (they need matplotlib)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run for CI: 1,000 training digits, 1 epoch, 200 test digits, 45-degree steps",
    )


def _parse_list(name: str, text: str, choices: tuple[str, ...]) -> list[str]:
    items = [s.strip().lower() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in choices]
    if bad or not items:
        raise UsageError(f"`{name}` must be a comma-separated list from {', '.join(choices)}; got {text!r}")
    return list(dict.fromkeys(items))


def check_args(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The models and protocols; :class:`UsageError` for a value argparse lets through."""
    models = _parse_list("--models", args.models, tuple(GROUPS))
    protocols = _parse_list("--protocols", args.protocols, ("upright", "rotated"))
    for name in ("width", "epochs", "threads"):
        value = getattr(args, name)
        if value < 1:
            raise UsageError(f"`--{name}` must be >= 1, got {value}")
    if not 0 < args.angle_step <= 360:  # also refuses nan
        raise UsageError(f"`--angle-step` must be in (0, 360], got {args.angle_step:g}")
    return models, protocols


def run(args: argparse.Namespace) -> int:
    models, protocols = check_args(args)
    torch.set_num_threads(args.threads)
    n_train, n_test, epochs, step = (1000, 200, 1, 45.0) if args.quick else (None, None, args.epochs, args.angle_step)
    out_dir = Path(args.output_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"`--output-dir` must be a folder that can be created, got {args.output_dir!r} ({e})") from e
    log = sys.stderr
    t0 = time.perf_counter()

    print(f"eqcnn demo: loading the bundled MNIST digits (CC BY-SA 3.0) with {args.threads} threads", file=log)
    if args.threads > 1 and "OMP_WAIT_POLICY" not in os.environ:
        print(
            "  tip: on a busy machine set OMP_WAIT_POLICY=PASSIVE or use --threads 1 (waiting OpenMP threads spin)",
            file=log,
        )
    x_train, y_train = load_digits("train", limit=n_train)
    x_test, y_test = load_digits("test", limit=n_test)
    angles = [step * k for k in range(math.ceil(360 / step - 1e-9))] if "upright" in protocols else []
    rotated_tests = {}
    if angles:
        bar = ProgressBar("rotating test digits", len(angles), log)
        for a in angles:
            rotated_tests[a] = load_digits("test", rotation=a, limit=n_test)[0]
            bar.update()
        bar.close()

    sizes = _sizes(models, args.width)
    results: dict[str, Any] = {
        "config": {
            "models": models,
            "protocols": protocols,
            "epochs": epochs,
            "train_digits": int(x_train.shape[0]),
            "test_digits": int(x_test.shape[0]),
            "angles": angles,
            "seed": args.seed,
            "threads": args.threads,
            "quick": bool(args.quick),
            "torch": torch.__version__,
            "eqcnn": eqcnn.__version__,
            "machine": platform.machine(),
            "processor": platform.processor(),
        },
        "models": {},
    }
    trained: dict[str, enn.Sequential] = {}
    for key in models:
        name, width, params = sizes[key]
        entry: dict[str, Any] = {"name": name, "group": repr(GROUPS[key][1]()), "width": width, "params": params}
        if "upright" in protocols:
            torch.manual_seed(args.seed)
            model = build_digit_model(GROUPS[key][1](), width)
            entry["upright_train_s"] = train_classifier(
                model, x_train, y_train, epochs=epochs, seed=args.seed, label=f"{name:>4} upright", stream=log
            )
            pred = predict(model, x_test)
            entry["upright_acc"] = float((pred == y_test).float().mean())
            # a model invariant to 180-degree turns cannot tell a 6 from a turned 9: count those mix-ups
            entry["six_nine_mixups"] = int(((y_test == 6) & (pred == 9)).sum() + ((y_test == 9) & (pred == 6)).sum())
            bar = ProgressBar(f"{name:>4} test, turned", len(angles), log)
            entry["angle_acc"] = []
            for a in angles:
                entry["angle_acc"].append(accuracy(model, rotated_tests[a], y_test))
                bar.update()
            bar.close(f"mean accuracy {100 * sum(entry['angle_acc']) / len(angles):.1f}%")
            trained[key] = model
        results["models"][key] = entry
    if "rotated" in protocols:
        xr_train, yr_train = load_digits("train", rotation="random", seed=args.seed + 1, limit=n_train)
        xr_test, yr_test = load_digits("test", rotation="random", seed=args.seed + 2, limit=n_test)
        for key in models:
            entry = results["models"][key]
            torch.manual_seed(args.seed)
            model = build_digit_model(GROUPS[key][1](), entry["width"])
            entry["rot_train_s"] = train_classifier(
                model,
                xr_train,
                yr_train,
                epochs=epochs,
                seed=args.seed,
                label=f"{entry['name']:>4} MNIST-rot",
                stream=log,
            )
            entry["rot_acc"] = accuracy(model, xr_test, yr_test)
    results["total_s"] = time.perf_counter() - t0

    table = format_table(results)
    print(table)
    mixups = [f"{e['name']} {e['six_nine_mixups']}" for e in results["models"].values() if "six_nine_mixups" in e]
    if mixups:
        n69 = int(((y_test == 6) | (y_test == 9)).sum())
        print(
            f"6/9 mix-ups among the {n69} upright test 6s and 9s: {', '.join(mixups)} "
            "(a model invariant to 180-degree turns cannot tell a 6 from a turned 9)"
        )
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "results.md").write_text(table + "\n")
    written = ["results.json", "results.md"]
    if not args.no_plots and trained:
        written += _plots(trained, results, x_test, out_dir, log)
    print(f"\nwrote {', '.join(written)} to {out_dir}/ in {time.perf_counter() - t0:.0f} s", file=log)
    return 0


def _sizes(models: list[str], width: int) -> dict[str, tuple[str, int, int]]:
    """Name, width and parameter count of each model, widths matched to the reference's parameters."""
    ref_params = count_parameters(build_digit_model(GROUPS[REFERENCE][1](), width))
    out = {}
    for key in models:
        name, make = GROUPS[key]
        w = width if key == REFERENCE else matched_width(make(), ref_params)
        out[key] = (name, w, count_parameters(build_digit_model(make(), w)))
    return out


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table of the results (one row per model)."""
    cfg = results["config"]
    head = ["model", "params", "upright acc", "rotated acc (mean)", "rotated acc (worst)", "train s"]
    head += ["MNIST-rot acc", "MNIST-rot train s"]
    rows = []
    for entry in results["models"].values():
        acc = entry.get("angle_acc")
        row = [
            f"{entry['name']} ({entry['group']}, width {entry['width']})",
            f"{entry['params']:,}",
            _pct(entry.get("upright_acc")),
            _pct(sum(acc) / len(acc) if acc else None),
            _pct(min(acc) if acc else None),
            _secs(entry.get("upright_train_s")),
            _pct(entry.get("rot_acc")),
            _secs(entry.get("rot_train_s")),
        ]
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    step = cfg["angles"][1] - cfg["angles"][0] if len(cfg["angles"]) > 1 else 360
    turned = f"rotated = test digits turned by every multiple of {step:g} degrees (models trained upright); "
    note = (
        f"\n{cfg['train_digits']} training and {cfg['test_digits']} test digits, {cfg['epochs']} epochs, "
        f"{cfg['threads']} threads; {turned if cfg['angles'] else ''}"
        "MNIST-rot = trained and tested on randomly turned digits."
    )
    return "\n".join(lines) + note


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def _plots(trained: dict[str, enn.Sequential], results: dict[str, Any], x_test, out_dir: Path, log) -> list[str]:
    from eqcnn import plots
    from eqcnn.plots._mpl import require_matplotlib

    try:
        require_matplotlib()
    except ModuleNotFoundError as exc:  # its message is the install hint
        print(f"skipping plots: {exc}", file=log)
        return []
    angles = results["config"]["angles"]
    names = {k: results["models"][k]["name"] for k in trained}
    written = []
    curves = {names[k]: (angles, results["models"][k]["angle_acc"]) for k in trained}
    fig = plots.plot_accuracy_vs_angle(curves, title="Trained on upright digits, tested on turned digits")
    fig.savefig(out_dir / "accuracy_vs_angle.png", dpi=120)
    written.append("accuracy_vs_angle.png")
    equi = [k for k in trained if k != "cnn"]
    if equi:
        fig = plots.plot_lifting_filters(trained[equi[0]][0], fields=4)
        fig.savefig(out_dir / "lifting_filters.png", dpi=120)
        written.append("lifting_filters.png")
    # the features after the second convolution block (15x15, after the first pooling)
    heads = {k: cast(enn.Sequential, m[:8]) for k, m in trained.items()}
    extractors = {names[k]: (h, h.out_type) for k, h in heads.items()}
    fig = plots.plot_rotated_features(
        extractors, x_test[0], degrees=90.0, title="A feature map after two conv blocks, input turned by 90°"
    )
    fig.savefig(out_dir / "feature_map_rotation.png", dpi=120)
    written.append("feature_map_rotation.png")
    return written
