"""e2cnn's best rotated-MNIST model, "D16|5 C16", in eqcnn and in escnn: parameters and cold build time.

e2cnn's model (Weiler & Cesa 2019, the SFCNN layout of their experiments with ``--fixparams``):
six convolutions of 24, 32, 36, 36, 64, 96 regular fields scaled by ``1 / sqrt(|G| / 16)`` (so
``int(c / sqrt(2))`` fields of D16 in blocks 1-5 and 96 of C16 in block 6), kernels 9, 7, 7, 7, 7, 5,
the restriction D16 -> C16 after the fifth convolution, group pooling, and a 96-96-10 head.  It is
rebuilt here in escnn (e2cnn's successor, the same modules) from that description, and in eqcnn as
``SFCNN(Dihedral(16), restrict={5: Cyclic(16)}, widths=...)`` with the same field counts.  Each build
runs in a fresh interpreter (cold caches).

    .venv/bin/python benchmarks/d16_c16.py            # 1 round (escnn takes minutes)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

FIELDS = [int(c / 2**0.5) for c in (24, 32, 36, 36, 64)] + [96]  # e2cnn's --fixparams field counts

EQCNN = f"""
import json, time
t = time.perf_counter()
import eqcnn
from eqcnn.models import SFCNN
t0 = time.perf_counter()
m = SFCNN(eqcnn.Dihedral(16), restrict={{5: eqcnn.Cyclic(16)}}, widths={tuple(FIELDS)!r})
t1 = time.perf_counter()
conv = sum(p.numel() for p in m.features.parameters())
print(json.dumps({{"build_s": t1 - t0, "params": sum(p.numel() for p in m.parameters()), "conv_params": conv}}))
"""

ESCNN = f"""
import json, time, warnings
warnings.simplefilter("ignore")
import math, torch
from escnn import gspaces, nn as enn
t0 = time.perf_counter()
gs = gspaces.flipRot2dOnR2(16)
t = enn.FieldType(gs, [gs.trivial_repr])
layers = []
for i, (c, k) in enumerate(zip({FIELDS!r}, (9, 7, 7, 7, 7, 5))):
    out = enn.FieldType(t.gspace, c * [t.gspace.regular_repr])
    layers.append(enn.R2Conv(t, out, k, padding=k // 2, frequencies_cutoff=0.8 * math.pi, sigma=0.6))
    t = out
    if i == 4:  # after the fifth convolution: D16 -> C16
        layers.append(enn.RestrictionModule(t, (None, 16)))
        layers.append(enn.DisentangleModule(layers[-1].out_type))
        t = layers[-1].out_type
    layers += [enn.InnerBatchNorm(t), enn.ELU(t)]
layers.append(enn.GroupPooling(t))
features = enn.SequentialModule(*layers)
head = torch.nn.Sequential(torch.nn.Linear(96, 96), torch.nn.BatchNorm1d(96), torch.nn.ELU(),
                           torch.nn.Linear(96, 96), torch.nn.BatchNorm1d(96), torch.nn.ELU(), torch.nn.Linear(96, 10))
t1 = time.perf_counter()
conv = sum(p.numel() for p in features.parameters())
total = conv + sum(p.numel() for p in head.parameters())
print(json.dumps({{"build_s": t1 - t0, "params": total, "conv_params": conv}}))
"""


def fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-escnn", action="store_true")
    args = ap.parse_args()
    libs = {"eqcnn": EQCNN} if args.no_escnn else {"eqcnn": EQCNN, "escnn": ESCNN}
    runs: dict[str, list[dict]] = {n: [] for n in libs}
    for r in range(args.rounds):
        for n in list(libs)[:: 1 if r % 2 == 0 else -1]:
            runs[n].append(fresh(libs[n]))
    print(f"field counts per block: {FIELDS} (D16 for blocks 1-5, C16 for block 6)")
    print("| library | parameters | of which convolutions and norms | cold build (median) |")
    print("|---|---|---|---|")
    for n, rs in runs.items():
        b = statistics.median(x["build_s"] for x in rs)
        print(f"| {n} | {rs[0]['params']:,} | {rs[0]['conv_params']:,} | {b:.2f} s |")


if __name__ == "__main__":
    main()
