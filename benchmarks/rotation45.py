"""45 degrees in Cyclic(8), split by cause: eqcnn with and without anti-aliased ReLUs, escnn, a plain CNN.

Network (tests/interop/interop_rotation45.py): 7x7 lifting conv to 8 regular fields of C8, ReLU, 5x5
conv 8 -> 8, ReLU, max group pooling. Inputs: band-limited 65x65 images (plane waves below 1/8 cycle
per pixel), turned exactly by evaluating them at turned coordinates. Each seed builds the nets once
and is measured on ``--inputs`` images. Two errors, relative L2 inside the disk of radius 20:

- ``bicubic``: the issue's protocol, ``net(R x)`` against ``R net(x)`` with the output turned by
  bicubic interpolation. The reference's own interpolation error is part of this figure.
- ``exact``: against ``net(x)`` evaluated at the turned points themselves (the net run on the input
  sampled on the turned lattice), so no interpolation enters: the net's own error (on every
  ``--every``-th row and column of the disk, to save time).
- ``reference``: the bicubic reference against the exact one: what interpolating the output costs.

Then the cost: a training step of ReLU and of ``AntiAliased(ReLU)`` on the normal layer's shape
(16 regular C8 fields, 32x32, batch 16), against the 5x5 conv of that shape.

    .venv/bin/python benchmarks/rotation45.py                   # 5 seeds x 4 inputs
    .venv/bin/python benchmarks/rotation45.py --sigmas 0.5 1.0 --seeds 10
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))
import interop_rotation45 as r45

from eqcnn.fields import rotate_pixels

REACH = 16  # covers the receptive field of every net here, anti-aliased ones included


def reference_error(net, seed: int, angle: float, every: int) -> float:
    """The bicubic reference ``R net(x)`` against the exact one, on every ``every``-th row and column of the disk."""
    sample = r45.plane_waves(seed)
    px, py = r45.plane_grid(r45.SIZE)
    with torch.no_grad():
        y = net(sample(px, py).float()[None, None])
    m = r45.sampled_disk(every=every)
    bicubic = rotate_pixels(y, angle, interpolation="bicubic")[0][:, m]
    exact = r45.exact_turned_output(net, sample, angle, m, REACH)
    return float((bicubic - exact).norm() / exact.norm())


def step_ms(module: torch.nn.Module, x: torch.Tensor, rounds: int) -> float:
    """Median time of forward + backward of ``module(x).square().mean()``, in ms."""
    times = []
    for i in range(rounds + 2):
        xi = x.detach().requires_grad_(True)
        t0 = time.perf_counter()
        module(xi).square().mean().backward()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def cost_table(sigmas: list[float], rounds: int) -> list[str]:
    import eqcnn
    from eqcnn import nn as enn

    G = eqcnn.Cyclic(8)
    h = G.regular(16)
    torch.manual_seed(0)
    x = torch.randn(16, h.size, 32, 32)
    mods = {"conv 5x5 (reference)": enn.Conv2d(h, h, 5, padding=2), "ReLU": enn.ReLU(h)}
    for s in sigmas:
        mods[f"AntiAliased(ReLU, sigma={s:g})"] = enn.AntiAliased(enn.ReLU(h), sigma=s)
        mods[f"AntiAliased(ReLU, factor=1, sigma={s:g})"] = enn.AntiAliased(enn.ReLU(h), factor=1, sigma=s)
    times = {n: [] for n in mods}
    for _ in range(3):  # interleaved rounds
        for n, m in mods.items():
            times[n].append(step_ms(m, x, rounds))
    conv = statistics.median(times["conv 5x5 (reference)"])
    lines = ["| layer (16 C8 regular fields, 32x32, b16) | training step, ms | / conv |", "|---|---|---|"]
    for n, t in times.items():
        lines.append(f"| {n} | {statistics.median(t):.2f} | {statistics.median(t) / conv:.3f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--inputs", type=int, default=4)
    ap.add_argument("--angle", type=float, default=45.0)
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0.5, 0.75, 1.0], help="AntiAliased blurs to measure")
    ap.add_argument("--rounds", type=int, default=10, help="timed training steps per round (cost table)")
    ap.add_argument("--no-cost", action="store_true", help="skip the cost table")
    ap.add_argument("--every", type=int, default=2, help="exact errors on every n-th row and column of the disk")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--bases", nargs="+", default=["auto"], help="the convolutions' bases (e.g. auto lowpass): rows for each"
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    angle = math.radians(args.angle)
    builders = {"plain": r45.plain_net, "eqcnn": r45.eqcnn_net}
    for basis in args.bases:
        tag = "" if basis == "auto" else f" basis={basis!r}"
        if basis != "auto":
            builders[f"eqcnn{tag}"] = lambda seed, b=basis: r45.eqcnn_net(seed, basis=b)
        for s in args.sigmas:
            builders[f"eqcnn{tag} AntiAliased sigma={s:g}"] = lambda seed, s=s, b=basis: r45.eqcnn_net(
                seed, antialias=s, basis=b
            )
            builders[f"eqcnn{tag} blur only (factor=1) sigma={s:g}"] = lambda seed, s=s, b=basis: r45.eqcnn_net(
                seed, s, factor=1, basis=b
            )
    try:
        import escnn  # noqa: F401

        builders["escnn"] = r45.escnn_net
    except ImportError:
        print("(escnn is not installed: its row is missing)")
    errs: dict[str, dict[str, list[float]]] = {n: {"bicubic": [], "exact": [], "reference": []} for n in builders}
    for seed in range(args.seeds):
        nets = {n: b(seed) for n, b in builders.items()}
        for i in range(args.inputs):
            k = seed * args.inputs + i
            x, xr = r45.band_limited_pair(k, angle=angle)
            for n, net in nets.items():
                errs[n]["bicubic"].append(r45.rotation_error(net, x, xr, angle=angle))
                errs[n]["exact"].append(r45.lattice_rotation_error(net, k, angle=angle, reach=REACH, every=args.every))
                errs[n]["reference"].append(reference_error(net, k, angle, args.every))
    when = time.strftime("%Y-%m-%d")
    print(f"# benchmarks/rotation45.py {' '.join(sys.argv[1:])} ({when}, {args.threads} threads)\n")
    print(f"45-degree comparison: {args.seeds} seeds x {args.inputs} inputs, angle {args.angle:g} degrees (means)\n")
    print("| net | bicubic (issue protocol) | exact | reference's own error | bicubic / escnn | exact / escnn |")
    print("|---|---|---|---|---|---|")
    esc = errs.get("escnn")
    for n, e in errs.items():
        b, x_, r = (statistics.mean(e[k]) for k in ("bicubic", "exact", "reference"))
        rb = f"{b / statistics.mean(esc['bicubic']):.2f}" if esc else "-"
        rx = f"{x_ / statistics.mean(esc['exact']):.2f}" if esc else "-"
        print(f"| {n} | {100 * b:.2f}% | {100 * x_:.2f}% | {100 * r:.2f}% | {rb} | {rx} |")
    if not args.no_cost:
        print()
        print("\n".join(cost_table(args.sigmas, args.rounds)))


if __name__ == "__main__":
    main()
