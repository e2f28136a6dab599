"""How long it takes to build the SFCNN model (default: C16, full widths), cold and warm.

Cold: a fresh Python process with an empty kernel-basis cache (the time to
import eqcnn is reported separately).  Warm: a second build in the same process,
where every kernel basis is already cached.  Medians over ``--repeats`` runs.

    python benchmarks/build_time.py                  # C16 SFCNN, 3 cold and 5 warm builds
    python benchmarks/build_time.py --group D8 --profile

Target (issue #4): the C16 SFCNN builds in under 1 s (escnn needs 23.7 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import eqcnn
from eqcnn.models import SFCNN
t1 = time.perf_counter()
group = {group!r}
G = eqcnn.Dihedral(int(group[1:])) if group[0] == "D" else eqcnn.Cyclic(int(group[1:]))
t2 = time.perf_counter()
model = SFCNN(G, width={width})
t3 = time.perf_counter()
warm = []
for _ in range({warm_repeats}):
    s = time.perf_counter()
    SFCNN(G, width={width})
    warm.append(time.perf_counter() - s)
n = sum(p.numel() for p in model.parameters())
print(json.dumps({{"import_s": t1 - t0, "cold_s": t3 - t2, "warm_s": warm, "params": n}}))
"""

ESCNN = r"""
import json, time, warnings
warnings.filterwarnings("ignore")
from escnn import gspaces, nn as enn
group = {group!r}
N = int(group[1:])
t0 = time.perf_counter()
gs = gspaces.flipRot2dOnR2(N) if group[0] == "D" else gspaces.rot2dOnR2(N)
t = enn.FieldType(gs, [gs.trivial_repr])
layers = []
for c, k in zip((24, 32, 36, 36, 64, 96), (9, 7, 7, 7, 7, 5)):
    out = enn.FieldType(gs, max(1, round(c * {width})) * [gs.regular_repr])
    layers += [enn.R2Conv(t, out, k, padding=k // 2, bias=False), enn.InnerBatchNorm(out), enn.ELU(out)]
    t = out
layers.append(enn.GroupPooling(t))
model = enn.SequentialModule(*layers)
print(json.dumps({{"cold_s": time.perf_counter() - t0}}))
"""

PROFILE = r"""
import cProfile, pstats, eqcnn
from eqcnn.models import SFCNN
group = {group!r}
G = eqcnn.Dihedral(int(group[1:])) if group[0] == "D" else eqcnn.Cyclic(int(group[1:]))
cProfile.run("SFCNN(G, width={width})", "/tmp/eqcnn_build.prof")
pstats.Stats("/tmp/eqcnn_build.prof").sort_stats("tottime").print_stats(12)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", default="C16", help="C<N> or D<N> (default C16)")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3, help="cold builds (fresh processes)")
    parser.add_argument("--warm-repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one cold build")
    parser.add_argument("--escnn", action="store_true", help="also time escnn building the same layers (cold)")
    args = parser.parse_args()

    code = CHILD.format(group=args.group, width=args.width, warm_repeats=args.warm_repeats)
    results = []
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cold = [r["cold_s"] for r in results]
    warm = [w for r in results for w in r["warm_s"]]
    imp = [r["import_s"] for r in results]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(f"SFCNN({args.group}, width={args.width}): {results[0]['params']:,} parameters")
    print(f"import eqcnn:        median {statistics.median(imp):.3f} s")
    print(f"cold build:          median {statistics.median(cold):.3f} s  (runs: {', '.join(f'{c:.3f}' for c in cold)})")
    print(f"warm build (cached): median {statistics.median(warm):.3f} s  (min {min(warm):.3f})")
    print(f"under 1 s cold: {'yes' if statistics.median(cold) < 1.0 else 'NO'}")
    if args.escnn:
        code = ESCNN.format(group=args.group, width=args.width)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        esc = json.loads(out.stdout.strip().splitlines()[-1])["cold_s"]
        print(f"escnn cold build of the same convs, batch norms and group pooling: {esc:.3f} s")
    if args.profile:
        subprocess.run([sys.executable, "-c", PROFILE.format(group=args.group, width=args.width)], check=True)


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - t:.1f} s)")
