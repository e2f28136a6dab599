"""Run every example, in its quick mode with ``--quick`` (what CI and ``make examples`` do).

    python examples/run_all.py [--quick] [--only NAME ...]

Each example runs in its own process; the DDP example runs under
``torch.distributed.run`` (torchrun) with two CPU processes. Exits with status
1 if any example fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533"]

# name -> command prefix (the script path and --quick are appended)
EXAMPLES: dict[str, list[str]] = {
    "quickstart": [sys.executable],
    "test_plain_model": [sys.executable],
    "export_onnx": [sys.executable],
    "segmentation": [sys.executable],
    "volumes": [sys.executable],
    "ddp_train": TORCHRUN,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="run each example's quick mode")
    parser.add_argument("--only", nargs="+", choices=sorted(EXAMPLES), help="run only these examples")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per example")
    args = parser.parse_args(argv)
    names = args.only or list(EXAMPLES)
    failed = []
    for name in names:
        cmd = [*EXAMPLES[name], str(HERE / f"{name}.py"), *(["--quick"] if args.quick else [])]
        print(f"=== {name}: {' '.join(Path(c).name if c == sys.executable else c for c in cmd)}", flush=True)
        start = time.perf_counter()
        try:
            status = subprocess.run(cmd, timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        seconds = time.perf_counter() - start
        ok = status == 0
        print(f"=== {name}: {'ok' if ok else f'FAILED ({status})'} in {seconds:.1f} s\n", flush=True)
        if not ok:
            failed.append(name)
    print(
        f"{len(names) - len(failed)}/{len(names)} examples passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
