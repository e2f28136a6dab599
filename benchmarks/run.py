"""eqcnn's performance suite: eqcnn vs escnn vs the plain conv2d of the same expanded shape.

    .venv/bin/python benchmarks/run.py            # full suite (CPU, and CUDA when present)
    .venv/bin/python benchmarks/run.py --quick    # < 60 s: the two target layers, import and build times

Writes a markdown table to stdout and ``benchmarks/results/{quick,full}.{md,json}``.
The method (interleaved rounds, per-round ratios, memory, build and import
times) is written down in benchmarks/README.md.
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
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_cases import Case, build_candidates, cases_for
from _bench_memory import peak_bytes

RESULTS = Path(__file__).resolve().parent / "results"


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time(fn, inner: int, device: str) -> float:
    """Seconds per call of ``fn``, over ``inner`` back-to-back calls (device synchronised)."""
    _sync(device)
    t = time.perf_counter()
    for _ in range(inner):
        fn()
    _sync(device)
    return (time.perf_counter() - t) / inner


def _calibrate(fn, device: str, target_s: float) -> int:
    """How many calls make one timed sample last about ``target_s``."""
    once = _time(fn, 1, device)
    return max(1, min(1000, round(target_s / max(once, 1e-6))))


MODES = ("train", "eval", "train_bf16", "eval_bf16")  # the last two under bf16 autocast (--autocast)


def interleaved(fns: dict[str, Any], rounds: int, device: str, target_s: float) -> dict[str, Any]:
    """Time every candidate once per round, in an order rotating with the round.

    Returns per-candidate median seconds and, for each candidate, the median
    over rounds of its time divided by the plain conv's time in the same round.
    """
    names = list(fns)
    for fn in fns.values():  # warm-up: caches, allocator, oneDNN primitives
        fn()
    inner = _calibrate(fns["plain"], device, target_s)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for n in order:
            times[n].append(_time(fns[n], inner, device))
    out: dict[str, Any] = {"inner": inner, "rounds": rounds, "median_s": {}, "ratio_to_plain": {}, "times_s": times}
    for n in names:
        out["median_s"][n] = statistics.median(times[n])
        out["ratio_to_plain"][n] = statistics.median(a / b for a, b in zip(times[n], times["plain"]))
    if "escnn" in names:
        out["ratio_eqcnn_to_escnn"] = statistics.median(a / b for a, b in zip(times["eqcnn"], times["escnn"]))
    return out


def _autocast(fn, device: str):
    """``fn`` run under ``torch.autocast(device, bfloat16)``."""

    def wrapped() -> None:
        with torch.autocast(device, dtype=torch.bfloat16):
            fn()

    return wrapped


def bench_case(
    case: Case, device: str, rounds: int, target_s: float, with_memory: bool, autocast: bool = False
) -> dict[str, Any]:
    torch.manual_seed(0)
    cands = build_candidates(case, device)
    row: dict[str, Any] = {"case": asdict(case), "device": device}
    for mode in MODES if autocast else MODES[:2]:
        for c in cands.values():
            c["module"].train(mode.startswith("train"))  # once: switching modes drops the cached filters
        step = mode.split("_")[0]
        fns = {name: c[step] if step == mode else _autocast(c[step], device) for name, c in cands.items()}
        row[mode] = interleaved(fns, rounds, device, target_s)
        if with_memory:
            row[mode]["peak_bytes"] = {name: peak_bytes(fn, device) for name, fn in fns.items()}
    row["build_s"] = {name: c["build_s"] for name, c in cands.items()}
    return row


# -- import and build times, in fresh interpreters ------------------------------------------------
_IMPORT_SNIPPETS = {
    "eqcnn": "import eqcnn, eqcnn.nn",
    "escnn": "import warnings; warnings.simplefilter('ignore'); import escnn, escnn.nn",
}


def _libraries() -> tuple[str, ...]:
    """eqcnn, and escnn when it imports here (the core environment has no escnn)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import escnn.nn  # noqa: F401
    except ImportError:
        return ("eqcnn",)
    return ("eqcnn", "escnn")


def _fresh(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def import_times(repeats: int) -> dict[str, Any]:
    """Seconds to import each library after torch, in fresh interpreters, interleaved, median."""
    names = list(_libraries())
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            code = f"import time, torch\nt = time.perf_counter()\n{_IMPORT_SNIPPETS[n]}\nprint(time.perf_counter() - t)"
            times[n].append(_fresh(code))
    return {"repeats": repeats, "median_s": {n: statistics.median(v) for n, v in times.items()}}


_MODEL_CODE = """
import time, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {bench_dir!r})
import torch, eqcnn
from _bench_cases import model_builders
build = model_builders({group!r}, {fields}, {library!r})
t = time.perf_counter(); build(); cold = time.perf_counter() - t
t = time.perf_counter(); build(); warm = time.perf_counter() - t
print(cold, warm)
"""


def model_build_times(groups: list[str], fields: int, repeats: int) -> dict[str, Any]:
    """Build a 4-layer model (lifting + 3 group convs, k=5) in a fresh interpreter: cold caches, then again."""
    out: dict[str, Any] = {"fields": fields, "repeats": repeats, "groups": {}}
    bench_dir = str(Path(__file__).resolve().parent)
    for group in groups:
        libs = _libraries()
        res: dict[str, dict[str, list[float]]] = {lib: {"cold": [], "warm": []} for lib in libs}
        for r in range(repeats):
            for lib in libs if r % 2 == 0 else libs[::-1]:
                code = _MODEL_CODE.format(bench_dir=bench_dir, group=group, fields=fields, library=lib)
                proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                cold, warm = (float(v) for v in proc.stdout.split())
                res[lib]["cold"].append(cold)
                res[lib]["warm"].append(warm)
        out["groups"][group] = {lib: {k: statistics.median(v) for k, v in d.items()} for lib, d in res.items()}
        if "escnn" in res:  # each round builds both, one after the other: the median of the rounds' ratios
            out["groups"][group]["ratio"] = {
                k: statistics.median(e / s for e, s in zip(res["eqcnn"][k], res["escnn"][k])) for k in ("cold", "warm")
            }
    return out


# -- machine and report -----------------------------------------------------------------------------
def _short(path: str) -> str:
    """``path`` relative to the working directory when it lies inside it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "loadavg_start": os.getloadavg(),
        "command": " ".join([_short(sys.executable), _short(sys.argv[0]), *sys.argv[1:]]),
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        import numpy

        info["numpy"] = numpy.__version__
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import escnn

        info["escnn"] = getattr(escnn, "__version__", "installed")
    except ImportError:
        info["escnn"] = None
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        info["cudnn_allow_tf32"] = torch.backends.cudnn.allow_tf32  # torch's defaults, left as they are
        info["matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
    return info


def _ms(s: float) -> str:
    return f"{1000 * s:.3g}"


def _mb(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:.2f}"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# eqcnn benchmarks ({report['mode']})",
        "",
        f"- machine: {m.get('cpu_model', '?')}, {m['cpu_count']} cores, torch {m['torch']} ({m['threads']} threads, "
        f"OMP_WAIT_POLICY {m.get('omp_wait_policy', 'default')}), "
        f"escnn {m['escnn']}, python {m['python']}"
        + (
            f", GPU {m['cuda_device']} (CUDA {m['cuda']}, cuDNN TF32 {m.get('cudnn_allow_tf32')}, "
            f"matmul TF32 {m.get('matmul_allow_tf32')})"
            if "cuda_device" in m
            else ""
        ),
        f"- date: {m['date_utc']} UTC; load average at start {tuple(round(v, 2) for v in m['loadavg_start'])}, "
        f"at end {tuple(round(v, 2) for v in m['loadavg_end'])}",
        f"- command: `{m['command']}`",
        "",
        "Times are medians (ms per call); ratios are medians over interleaved rounds of the per-round ratio to "
        "the plain conv2d of the same expanded shape (lower is better, 1.00 = the dense limit).",
        "",
        "| device | case | mode | plain ms | eqcnn ms | escnn ms | eqcnn/plain | escnn/plain | eqcnn/escnn "
        "| peak MB plain / eqcnn / escnn |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["layers"]:
        c = row["case"]
        for mode in (m for m in MODES if m in row):
            r = row[mode]
            med, rat = r["median_s"], r["ratio_to_plain"]
            pk = r.get("peak_bytes", {})
            lines.append(
                f"| {row['device']} | {c['name']} | {mode} | {_ms(med['plain'])} | {_ms(med['eqcnn'])} | "
                f"{_ms(med['escnn']) if 'escnn' in med else '-'} | {rat['eqcnn']:.3f} | "
                f"{rat['escnn']:.3f} | {r['ratio_eqcnn_to_escnn']:.3f} | "
                f"{_mb(pk.get('plain'))} / {_mb(pk.get('eqcnn'))} / {_mb(pk.get('escnn'))} |"
                if "escnn" in med
                else f"| {row['device']} | {c['name']} | {mode} | {_ms(med['plain'])} | {_ms(med['eqcnn'])} | - | "
                f"{rat['eqcnn']:.3f} | - | - | {_mb(pk.get('plain'))} / {_mb(pk.get('eqcnn'))} / - |"
            )
    lines += ["", "Layer build (same process, bases of earlier layers may be cached), seconds:", ""]
    lines += ["| device | case | eqcnn | escnn |", "|---|---|---|---|"]
    for row in report["layers"]:
        b = row["build_s"]
        lines.append(
            f"| {row['device']} | {row['case']['name']} | {b['eqcnn']:.3g} | {b.get('escnn', float('nan')):.3g} |"
        )
    mb = report.get("model_build")  # (absent with --build-rounds 0)
    if mb is not None:
        lines += [
            "",
            f"Model build (lifting + 3 group convs, {mb['fields']} regular fields, k=5; fresh interpreter; "
            f"median of {mb['repeats']}; ratios: median of each round's ratio), seconds:",
            "",
            "| group | eqcnn cold | escnn cold | eqcnn/escnn cold | eqcnn warm | escnn warm | eqcnn/escnn warm |",
            "|---|---|---|---|---|---|---|",
        ]
        nan = {"cold": float("nan"), "warm": float("nan")}
        for g, d in mb["groups"].items():
            e, s, r = d["eqcnn"], d.get("escnn", nan), d.get("ratio", nan)
            lines.append(
                f"| {g} | {e['cold']:.3g} | {s['cold']:.3g} | {r['cold']:.3f} | {e['warm']:.3g} | "
                f"{s['warm']:.3g} | {r['warm']:.3f} |"
            )
    it = report["import"]
    lines += [
        "",
        f"Import time beyond torch (fresh interpreters, median of {it['repeats']}): "
        f"eqcnn {it['median_s']['eqcnn']:.3f} s, escnn {it['median_s'].get('escnn', float('nan')):.3f} s.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the target cases only, few rounds (< 60 s)")
    ap.add_argument("--device", choices=["cpu", "cuda", "all"], default="all", help="'all': CPU, and CUDA if present")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case (default 3 quick, 9 full)")
    ap.add_argument("--cases", nargs="*", default=None, help="only cases whose name contains one of these")
    ap.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure peak memory (default: on, off with --quick)",
    )
    ap.add_argument(
        "--autocast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time every case under bf16 autocast (default: on for CUDA, off for the CPU)",
    )
    ap.add_argument(
        "--build-rounds",
        type=int,
        default=None,
        help="fresh-interpreter rounds of the model build (default 1 quick, 9 full; 0 skips it)",
    )
    ap.add_argument(
        "--build-groups",
        nargs="*",
        default=None,
        help="the groups of the model build (default: C8 quick; C4 C8 D4 SO2 full)",
    )
    ap.add_argument(
        "--import-rounds",
        type=int,
        default=None,
        help="fresh-interpreter rounds of the import time (default 2 quick, 7 full)",
    )
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    mode = "quick" if args.quick else "full"
    rounds = args.rounds or (3 if args.quick else 9)
    target_s = 0.03 if args.quick else 0.1
    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" else ["cpu"]
    if args.device == "all" and torch.cuda.is_available():
        devices.append("cuda")
    if "cuda" in devices and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")

    memory = (not args.quick) if args.memory is None else args.memory
    report: dict[str, Any] = {"mode": mode, "machine": machine(), "layers": []}
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / f"{mode}.partial.json"  # each case as it finishes, in case the run is cut short
    for device in devices:
        autocast = (device == "cuda") if args.autocast is None else args.autocast
        for case in cases_for(mode, args.cases, device):
            print(f"[{device}] {case.name} ...", file=sys.stderr, flush=True)
            report["layers"].append(bench_case(case, device, rounds, target_s, memory, autocast))
            partial.write_text(json.dumps(report, indent=1) + "\n")
    # a fresh interpreter's build time swings by 30% or more on a shared machine: 9 rounds in a full run
    build_rounds = (1 if args.quick else 9) if args.build_rounds is None else args.build_rounds
    if build_rounds > 0:
        report["model_build"] = model_build_times(
            args.build_groups or (["C8"] if args.quick else ["C4", "C8", "D4", "SO2"]), 16, build_rounds
        )
    report["import"] = import_times(args.import_rounds or (2 if args.quick else 7))
    report["machine"]["loadavg_end"] = os.getloadavg()

    (args.out / f"{mode}.json").write_text(json.dumps(report, indent=1) + "\n")
    partial.unlink(missing_ok=True)
    md = markdown(report)
    (args.out / f"{mode}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
