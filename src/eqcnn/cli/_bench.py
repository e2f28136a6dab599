"""``eqcnn bench``: a thin launcher for the benchmark script ``benchmarks/run.py`` of a source checkout.

The benchmarks live outside the package (they compare against escnn and record
machine metadata), so this command looks for ``benchmarks/run.py`` in the
current directory and its parents (or at ``--script``) and runs it with the
remaining arguments, e.g. ``eqcnn bench --quick``.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from ._main import UsageError

__all__ = ["add_arguments", "find_script", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Time eqcnn layers and models against plain PyTorch (and escnn when installed) by running "
        "benchmarks/run.py from an eqcnn source checkout. Arguments after `--` are passed to the "
        "script unchanged; try `eqcnn bench --quick` for a short run or `eqcnn bench -- --help` for its options."
    )
    p.add_argument("--script", default=None, help="path to run.py (default: benchmarks/run.py here or in a parent)")
    p.add_argument("--quick", action="store_true", help="a short run (passed on to benchmarks/run.py as --quick)")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments for benchmarks/run.py, e.g. --quick")


def find_script(start: Path | None = None) -> Path | None:
    """``benchmarks/run.py`` in ``start`` (default: the current directory) or the nearest parent holding one."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "benchmarks" / "run.py"
        if candidate.is_file():
            return candidate
    return None


def run(args: argparse.Namespace) -> int:
    script = Path(args.script) if args.script else find_script()
    if script is None or not script.is_file():
        where = f"at {args.script}" if args.script else f"in {Path.cwd()} or its parents"
        raise UsageError(
            f"no benchmarks/run.py found {where}. The benchmarks ship with eqcnn's source, not "
            "with the installed package: run this command inside a source checkout (where `make bench` works), "
            "or point --script at run.py."
        )
    forwarded = [a for a in args.script_args if a != "--"] if args.script_args[:1] == ["--"] else args.script_args
    saved_argv, saved_path = sys.argv, list(sys.path)
    if args.quick:
        forwarded = ["--quick", *forwarded]
    sys.argv = [str(script), *forwarded]
    sys.path.insert(0, str(script.parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:  # the script's own exit status
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0
