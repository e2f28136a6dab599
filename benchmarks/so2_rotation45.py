"""45 degrees over SO(2): a two-layer band-limited net in eqcnn, the same net in escnn, and a plain CNN.

Network (tests/interop/interop_rotation45.py): 7x7 lifting conv to 8 ``bl_regular`` fields of SO(2)
(irreps 0..3), Fourier ELU on 16 samples, 5x5 conv 8 -> 8, Fourier ELU, norm pooling.  Inputs: the
band-limited 65x65 images of the C8 comparison, rotated exactly; error inside the disk of radius 20.
Seeds x inputs: each seed builds the nets once and is measured on ``--inputs`` images.

    .venv/bin/python benchmarks/so2_rotation45.py             # 5 seeds x 4 inputs
    .venv/bin/python benchmarks/so2_rotation45.py --angles 30 45
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))
import interop_rotation45 as r45


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--inputs", type=int, default=4)
    ap.add_argument("--angles", type=float, nargs="+", default=[45.0])
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    builders = {
        "eqcnn": r45.eqcnn_so2_net,
        "eqcnn basis='escnn'": lambda s: r45.eqcnn_so2_net(s, basis="escnn"),
        "eqcnn AntiAliased sigma=0.5": lambda s: r45.eqcnn_so2_net(s, antialias=0.5),
        "eqcnn AntiAliased sigma=1": lambda s: r45.eqcnn_so2_net(s, antialias=1.0),
        "plain": r45.plain_so2_net,
    }
    try:
        import escnn  # noqa: F401

        builders["escnn"] = r45.escnn_so2_net
    except ImportError:
        pass
    print(f"| angle | {' | '.join(builders)} |")
    print(f"|---|{'---|' * len(builders)}")
    for deg in args.angles:
        errs: dict[str, list[float]] = {n: [] for n in builders}
        for seed in range(args.seeds):
            nets = {n: b(seed) for n, b in builders.items()}
            for i in range(args.inputs):
                x, xr = r45.band_limited_pair(seed * args.inputs + i, angle=math.radians(deg))
                for n, net in nets.items():
                    errs[n].append(r45.rotation_error(net, x, xr, angle=math.radians(deg)))
        cells = [f"{100 * statistics.mean(v):.2f}% (median {100 * statistics.median(v):.2f}%)" for v in errs.values()]
        print(f"| {deg:g} | {' | '.join(cells)} |")
        if "escnn" in errs:
            ratio = statistics.mean(errs["eqcnn"]) / statistics.mean(errs["escnn"])
            print(f"\neqcnn / escnn (means) at {deg:g} degrees: {ratio:.2f}")


if __name__ == "__main__":
    main()
