"""Band limit of eqcnn's harmonic basis vs the 45-degree error (issue #5, item 2).

Re-runs the 45-degree comparison of tests/interop/interop_rotation45.py with
eqcnn's ring band limit (``eqcnn.kernels._harmonic.default_max_frequency``)
monkeypatched to alternatives, next to escnn and a plain CNN, for several
input band limits.  Median and mean over ``--seeds`` seeds.  Nothing in eqcnn
is changed on disk.

    .venv/bin/python benchmarks/band_limit_study.py --seeds 20
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))

import interop_rotation45 as r45

from eqcnn.kernels import _basis, _harmonic

ORIGINAL = _harmonic.default_max_frequency


def escnn_like(radius: float, outer_radius: float) -> int:
    """escnn's default cutoff for R2Conv (its ``_manual_fco1``): 2r - 1 on even inner rings."""
    if radius == 0:
        return 0
    r = round(radius)
    if radius >= outer_radius:
        return min(2, 2 * r)
    return min(2 * r, 2 * r - (r + 1) % 2)


def inner_2r_minus_1(radius: float, outer_radius: float) -> int:
    if radius == 0:
        return 0
    if radius >= outer_radius:
        return min(2, math.floor(2 * radius))
    return math.floor(2 * radius) - 1


def outer_1(radius: float, outer_radius: float) -> int:
    if radius >= outer_radius and radius > 0:
        return 1
    return ORIGINAL(radius, outer_radius)


def inner_2r_minus_1_outer_1(radius: float, outer_radius: float) -> int:
    if radius >= outer_radius and radius > 0:
        return 1
    return inner_2r_minus_1(radius, outer_radius)


def _no_svd_mixing(radius: float, outer_radius: float) -> int:
    return ORIGINAL(radius, outer_radius)


VARIANTS = {
    "eqcnn (current)": ORIGINAL,
    "escnn-like cutoff": escnn_like,
    "inner 2r-1": inner_2r_minus_1,
    "outer ring m<=1": outer_1,
    "both": inner_2r_minus_1_outer_1,
    "unit-norm functions, no joint orthonormalisation": _no_svd_mixing,
}


ORTHONORMAL = _harmonic.orthonormal_coefficients


def unit_norm_coefficients(gram, rel_tol: float = 1e-6):
    """Each raw (ring, frequency) filter scaled to unit norm, not mixed with the others (escnn's way)."""
    norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    keep = norms > rel_tol * norms.max(initial=0.0)
    return np.diag(1.0 / np.where(keep, norms, 1.0))[keep]


def use(rule, orthonormalise=ORTHONORMAL) -> None:
    _harmonic.default_max_frequency = rule
    _harmonic.orthonormal_coefficients = orthonormalise
    _basis._cached_basis.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--cutoffs", type=float, nargs="+", default=[0.1, 0.125, 0.15, 0.25])
    ap.add_argument("--variants", nargs="*", default=None, help="only the variants whose name contains one of these")
    args = ap.parse_args()
    variants = {k: v for k, v in VARIANTS.items() if not args.variants or any(s in k for s in args.variants)}
    seeds = range(args.seeds)
    print(f"median (mean) relative L2 error at 45 degrees, disk r=20, {args.seeds} seeds")
    header = ["input cutoff", *variants, "escnn", "plain CNN"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cutoff in args.cutoffs:
        pairs = [r45.band_limited_pair(s, cutoff=cutoff) for s in seeds]
        cells = []
        for rule in variants.values():
            use(rule, unit_norm_coefficients if rule is _no_svd_mixing else ORTHONORMAL)
            errs = [r45.rotation_error(r45.eqcnn_net(s), *pairs[s]) for s in seeds]
            cells.append(errs)
        use(ORIGINAL)
        cells.append([r45.rotation_error(r45.escnn_net(s), *pairs[s]) for s in seeds])
        cells.append([r45.rotation_error(r45.plain_net(s), *pairs[s]) for s in seeds])
        row = [f"{cutoff:g}"] + [f"{100 * statistics.median(e):.2f}% ({100 * statistics.mean(e):.2f}%)" for e in cells]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
