"""3-D convolutions over the octahedral groups: training step, cold build and memory, against plain Conv3d and escnn.

For each case the eqcnn layer, the plain ``torch.nn.Conv3d`` of the same expanded shape
(``in_type.size -> out_type.size`` channels, same kernel, same padding) and, where escnn is
installed, escnn's ``R3Conv`` over ``octaOnR3()`` / ``fullOctaOnR3()`` with the same field types
are timed side by side in one run (interleaved rounds, the median kept): one training step is
forward, a sum as the loss, backward.  Cold builds run in fresh interpreters: a layer (regular ->
regular) and a three-layer model (lift, two regular -> regular convs, group pooling), from the
group's construction to the built module, after ``import`` (eqcnn's import is torch's plus
~0.1 s; escnn's is reported by benchmarks/run.py).  escnn keeps some group data in an on-disk cache
(``~/.cache/escnn`` or its ``__cache__``) between processes: its cold builds here are with that
cache warm, as its users have it after the first run.  Peak memory is the CPU allocations of one
training step (benchmarks/_bench_memory.py).

    .venv/bin/python benchmarks/octahedral3d.py                  # writes benchmarks/results/octahedral3d/
    .venv/bin/python benchmarks/octahedral3d.py --rounds 3 --build-rounds 1 --no-escnn   # quick
    .venv/bin/python benchmarks/octahedral3d.py --device cuda   # on a GPU machine
    .venv/bin/python benchmarks/octahedral3d.py --rounds 15 --build-rounds 0 --keep-builds  # steps again
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_memory import peak_bytes

import eqcnn
from eqcnn import nn as enn

# (name, group, in fields ("trivial" or a number of regular fields), out regular fields, kernel, size, batch)
CASES = [
    ("O lift 1->2 k3", "O", "trivial", 2, 3, 24, 4),
    ("O normal 2->2 k3", "O", 2, 2, 3, 16, 4),
    ("O normal 2->2 k5", "O", 2, 2, 5, 12, 2),
    ("Oh normal 1->1 k3", "Oh", 1, 1, 3, 16, 4),
]


def group_of(name: str) -> eqcnn.PointGroup:
    return eqcnn.Octahedral() if name == "O" else eqcnn.FullOctahedral()


def types(G, fin, fout):
    t_in = G.trivial(1) if fin == "trivial" else G.regular(fin)
    return t_in, G.regular(fout)


def escnn_layer(gname: str, fin, fout, k: int):
    from escnn import gspaces
    from escnn import nn as esnn

    gs = gspaces.octaOnR3() if gname == "O" else gspaces.fullOctaOnR3()
    t_in = esnn.FieldType(gs, [gs.trivial_repr] if fin == "trivial" else fin * [gs.regular_repr])
    t_out = esnn.FieldType(gs, fout * [gs.regular_repr])
    return esnn.R3Conv(t_in, t_out, k, padding=k // 2), t_in


def timed_step(module, x, wrap=None):
    def step():
        module.zero_grad(set_to_none=True)
        y = module(wrap(x) if wrap else x)
        y = y.tensor if hasattr(y, "tensor") else y
        y.sum().backward()

    return step


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def interleaved(steps: dict, rounds: int, device: str) -> dict:
    for fn in steps.values():  # warm up
        fn()
        fn()
    times = {k: [] for k in steps}
    for _ in range(rounds):
        for k, fn in steps.items():
            sync(device)
            t = time.perf_counter()
            fn()
            sync(device)
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


LAYER_EQCNN = """
import json, time
import eqcnn
from eqcnn import nn as enn
t = time.perf_counter()
G = eqcnn.{group}()
conv = enn.Conv3d(G.regular({f}), G.regular({f}), {k}, padding={k} // 2)
print(json.dumps({{"s": time.perf_counter() - t}}))
"""

LAYER_ESCNN = """
import json, time, warnings
warnings.simplefilter("ignore")
from escnn import gspaces, nn as esnn
t = time.perf_counter()
gs = gspaces.{gspace}()
ft = esnn.FieldType(gs, {f} * [gs.regular_repr])
conv = esnn.R3Conv(ft, ft, {k}, padding={k} // 2)
print(json.dumps({{"s": time.perf_counter() - t}}))
"""

MODEL_EQCNN = """
import json, time
import eqcnn
from eqcnn import nn as enn
t = time.perf_counter()
G = eqcnn.{group}()
r = G.regular({f})
m = enn.Sequential(enn.Conv3d(G.trivial(1), r, 3, padding=1), enn.ReLU(r), enn.Conv3d(r, r, 3, padding=1),
                   enn.ReLU(r), enn.Conv3d(r, r, 3, padding=1), enn.GroupPool(r))
print(json.dumps({{"s": time.perf_counter() - t}}))
"""

MODEL_ESCNN = """
import json, time, warnings
warnings.simplefilter("ignore")
from escnn import gspaces, nn as esnn
t = time.perf_counter()
gs = gspaces.{gspace}()
ti = esnn.FieldType(gs, [gs.trivial_repr])
r = esnn.FieldType(gs, {f} * [gs.regular_repr])
m = esnn.SequentialModule(esnn.R3Conv(ti, r, 3, padding=1), esnn.ReLU(r), esnn.R3Conv(r, r, 3, padding=1),
                          esnn.ReLU(r), esnn.R3Conv(r, r, 3, padding=1), esnn.GroupPooling(r))
print(json.dumps({{"s": time.perf_counter() - t}}))
"""


def fresh(code: str, timeout: float = 900) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["s"])


def builds(rounds: int, with_escnn: bool) -> list[dict]:
    rows = []
    for gname, group, gspace in (("O", "Octahedral", "octaOnR3"), ("Oh", "FullOctahedral", "fullOctaOnR3")):
        f = 2 if gname == "O" else 1
        for what, ours, theirs, k in (("layer k3", LAYER_EQCNN, LAYER_ESCNN, 3), ("layer k5", LAYER_EQCNN,
                                      LAYER_ESCNN, 5), ("model", MODEL_EQCNN, MODEL_ESCNN, 3)):  # fmt: skip
            row = {"group": gname, "what": f"{what} ({f} regular fields)"}
            row["eqcnn_s"] = statistics.median(fresh(ours.format(group=group, f=f, k=k)) for _ in range(rounds))
            if with_escnn:
                row["escnn_s"] = statistics.median(fresh(theirs.format(gspace=gspace, f=f, k=k)) for _ in range(rounds))
            rows.append(row)
            print(row, flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--build-rounds", type=int, default=3)
    p.add_argument("--no-escnn", action="store_true")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-steps", action="store_true", help="only the cold builds")
    p.add_argument("--keep-builds", action="store_true", help="with --build-rounds 0: keep the last run's builds")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "octahedral3d"))
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    with_escnn = not a.no_escnn
    if with_escnn:
        try:
            import escnn  # noqa: F401
        except ImportError:
            with_escnn = False
    rows = []
    for name, gname, fin, fout, k, n, batch in [] if a.no_steps else CASES:
        G = group_of(gname)
        t_in, t_out = types(G, fin, fout)
        torch.manual_seed(0)
        ours = enn.Conv3d(t_in, t_out, k, padding=k // 2).to(a.device)
        plain = torch.nn.Conv3d(t_in.size, t_out.size, k, padding=k // 2).to(a.device)
        x = torch.randn(batch, t_in.size, n, n, n).to(a.device)
        steps = {"plain": timed_step(plain, x), "eqcnn": timed_step(ours, x)}
        if with_escnn:
            from escnn import nn as esnn

            theirs, et = escnn_layer(gname, fin, fout, k)
            theirs = theirs.to(a.device)
            steps["escnn"] = timed_step(theirs, x, lambda v, et=et: esnn.GeometricTensor(v, et))
        med = interleaved(steps, a.rounds, a.device)
        row = {"case": name, "shape": f"{t_in.size}->{t_out.size} k{k} {batch}x{n}^3", **{f"{k_}_ms": v * 1e3
               for k_, v in med.items()}}  # fmt: skip
        row["eqcnn_over_plain"] = med["eqcnn"] / med["plain"]
        if "escnn" in med:
            row["eqcnn_over_escnn"] = med["eqcnn"] / med["escnn"]
        if not a.no_memory and a.device == "cpu":
            row["plain_peak_mb"] = peak_bytes(steps["plain"], a.device) / 2**20
            row["eqcnn_peak_mb"] = peak_bytes(steps["eqcnn"], a.device) / 2**20
            if "escnn" in steps:
                row["escnn_peak_mb"] = peak_bytes(steps["escnn"], a.device) / 2**20
        rows.append(row)
        print(row, flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    build_rows = builds(a.build_rounds, with_escnn) if a.build_rounds > 0 else []
    kept = None
    if a.keep_builds and not build_rows and (out / f"{a.device}.json").exists():  # the last run's builds
        previous = json.loads((out / f"{a.device}.json").read_text())
        build_rows, kept = previous.get("builds", []), previous.get("command")
    report = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "device": a.device,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "steps": rows,
        "builds": build_rows,
        "builds_command": kept or None,
    }
    (out / f"{a.device}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "| case | shape | plain ms | eqcnn ms | escnn ms | eqcnn/plain | eqcnn/escnn | peak MB plain/eqcnn/escnn |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        peaks = "/".join(f"{r[k]:.0f}" for k in ("plain_peak_mb", "eqcnn_peak_mb", "escnn_peak_mb") if k in r)
        lines.append(
            f"| {r['case']} | {r['shape']} | {r['plain_ms']:.1f} | {r['eqcnn_ms']:.1f} | "
            f"{r.get('escnn_ms', float('nan')):.1f} | {r['eqcnn_over_plain']:.3f} | "
            f"{r.get('eqcnn_over_escnn', float('nan')):.3f} | {peaks or '-'} |"
        )
    if build_rows:
        lines += ["", "| cold build | eqcnn s | escnn s | eqcnn/escnn |", "|---|---|---|---|"]
        for r in build_rows:
            ratio = r["eqcnn_s"] / r["escnn_s"] if "escnn_s" in r else float("nan")
            lines.append(
                f"| {r['group']} {r['what']} | {r['eqcnn_s']:.3f} | {r.get('escnn_s', float('nan')):.2f} | "
                f"1/{1 / ratio:.0f} |"
            )
    (out / f"{a.device}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
