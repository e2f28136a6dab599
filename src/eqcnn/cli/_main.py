"""Argument parsing for the ``eqcnn`` command; each subcommand lives in its own module.

Exit statuses, the same for every subcommand: 0 on success; 2 for a usage
error, with ``eqcnn COMMAND: error: MESSAGE`` on stderr (argparse's own, after
its usage line, for a malformed command line; one line alone for a value a
subcommand refuses by raising :class:`UsageError`); 1 for "ran, but a check
failed" (``eqcnn check``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["UsageError", "build_parser", "main"]


class UsageError(Exception):
    """A bad command-line value that argparse cannot see: ``main`` prints it on one line and exits with 2."""


# name -> (module, one-line help); each module defines add_arguments(parser) and run(args) -> int
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check": ("eqcnn.cli._check", "build a model from MODULE:CALLABLE and print its equivariance report"),
    "quickstart": ("eqcnn.cli._quickstart", "build one small model for Trivial, C4 and C8; print equivariance errors"),
    "demo": ("eqcnn.cli._demo", "train a plain CNN and an equivariant CNN on rotated digits; print a table, plots"),
    "train": ("eqcnn.cli._train", "train a named model (cnn, c8, c16, d16-c16, so2) on MNIST-rot; checkpoints, resume"),
    "bench": ("eqcnn.cli._bench", "time eqcnn layers against plain PyTorch (and escnn); runs benchmarks/run.py"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eqcnn",
        description="eqcnn: rotation-equivariant CNNs for PyTorch, and a harness that measures equivariance.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except UsageError as e:
        print(f"eqcnn {args.command}: error: {e}", file=sys.stderr)
        return 2
