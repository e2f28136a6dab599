"""Large groups: the cold build of one regular -> regular conv layer, time and peak memory, eqcnn vs escnn.

Each build runs in a fresh Python process (empty basis caches), so the time is
the kernel-basis solve plus the layer's set-up, and the peak resident memory
(``ru_maxrss``) is the process' own, measured after importing the library (the
import's memory is reported beside it).  escnn's R2Conv is built between the
same field types (2 regular fields each side, ``padding=k // 2``).

    .venv/bin/python benchmarks/basis_build.py                   # C16 k9, D8 k9, D16 k9, D24 k9
    .venv/bin/python benchmarks/basis_build.py --cases D16:9 --no-escnn
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

EQCNN = r"""
import json, resource, time
import eqcnn
from eqcnn import nn as enn
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
G = eqcnn.Dihedral({n}) if {dihedral} else eqcnn.Cyclic({n})
t = G.regular({fields})
t0 = time.perf_counter()
enn.Conv2d(t, t, {k}, padding={k} // 2)
s = time.perf_counter() - t0
print(json.dumps({{"s": s, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "import_mb": base / 1024}}))
"""

ESCNN = r"""
import json, resource, time, warnings
warnings.filterwarnings("ignore")
from escnn import gspaces, nn as enn
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
gs = gspaces.flipRot2dOnR2({n}) if {dihedral} else gspaces.rot2dOnR2({n})
t = enn.FieldType(gs, [gs.regular_repr] * {fields})
t0 = time.perf_counter()
enn.R2Conv(t, t, {k}, padding={k} // 2)
s = time.perf_counter() - t0
print(json.dumps({{"s": s, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "import_mb": base / 1024}}))
"""


def run(code: str) -> dict | None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, ["src", os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        print(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="C16:9,D8:9,D16:9,D24:9", help="GROUP:KERNEL, comma separated")
    ap.add_argument("--fields", type=int, default=2, help="regular fields on each side")
    ap.add_argument("--no-escnn", action="store_true")
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print("\n| layer | eqcnn s | eqcnn peak MB (import) | escnn s | escnn peak MB (import) |\n|---|---|---|---|---|")
    for case in args.cases.split(","):
        group, k = case.split(":")
        fmt = {"n": int(group[1:]), "dihedral": group[0] == "D", "k": int(k), "fields": args.fields}
        ours = run(EQCNN.format(**fmt))
        theirs = None if args.no_escnn else run(ESCNN.format(**fmt))

        def cells(r: dict | None) -> str:
            if r is None:
                return "- | -"
            return f"{r['s']:.2f} | {r['peak_mb']:.0f} ({r['import_mb']:.0f})"

        print(f"| {group} {args.fields} -> {args.fields} regular, k{k} | {cells(ours)} | {cells(theirs)} |", flush=True)


if __name__ == "__main__":
    main()
