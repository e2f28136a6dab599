"""``eqcnn check MODULE:CALLABLE``: build the user's model and print its equivariance report."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "parse_group", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="MODULE:CALLABLE",
        help="where the model comes from: an importable module or a .py file, and a callable in it that returns "
        "an nn.Module (e.g. mypkg.models:build or ./net.py:make_model)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help="input height and width (default: the smallest size from 33 up, more for a large receptive field, "
        "at which every strided layer samples a symmetric grid; see eqcnn.nn.exact_input_sizes)",
    )
    parser.add_argument(
        "--channels",
        type=int,
        default=None,
        help="input channels of a plain model (default: read from the model); a model with field types is "
        "refused if they take another number",
    )
    parser.add_argument(
        "--group",
        default=None,
        help="symmetry to check a plain model for: trivial, C4, D4, cyclic:8, dihedral:2 ... "
        "(default: the model's, else C4); a model with field types is checked for their group, and refused if "
        "--group names another (build it for that group with --factory)",
    )
    parser.add_argument(
        "--factory",
        action="store_true",
        help="CALLABLE takes the group: build the model with --group and the baseline with Trivial()",
    )
    parser.add_argument("--angles", default="", help="extra rotation angles in degrees, comma separated (e.g. 30,45)")
    parser.add_argument(
        "--output", choices=("invariant", "image"), default=None, help="what the output is, for plain models"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--dtype", choices=("float32", "float64", "float16", "bfloat16"), default="float32")
    parser.add_argument(
        "--no-baseline", action="store_true", help="do not build the baseline (approximate transforms are not judged)"
    )
    parser.add_argument(
        "--layerwise", action="store_true", help="also print the error after each layer for the first failing rotation"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random input (default: 0)")


def parse_group(text: str) -> Any:
    """``trivial``, ``C4``/``cyclic:4``/``cyclic4`` or ``D4``/``dihedral:4``."""
    import eqcnn

    s = text.strip().lower()
    if s in ("trivial", "c1", "cyclic:1"):
        return eqcnn.Trivial()
    m = re.fullmatch(r"(c|cyclic|d|dihedral)[:(]?(\d+)\)?", s)
    if not m:
        raise ValueError(f"`--group` must look like trivial, C4, D4, cyclic:8 or dihedral:2, got {text!r}")
    n = int(m.group(2))
    return eqcnn.Cyclic(n) if m.group(1) in ("c", "cyclic") else eqcnn.Dihedral(n)


def load_callable(target: str) -> Any:
    """The callable named by ``MODULE:CALLABLE`` (a dotted module or a path to a .py file)."""
    if ":" not in target:
        raise ValueError(f"`target` must be MODULE:CALLABLE, got {target!r}")
    mod_name, _, attr = target.rpartition(":")
    if mod_name.endswith(".py") or "/" in mod_name:
        path = Path(mod_name)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {mod_name}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        if "" not in sys.path:
            sys.path.insert(0, "")
        module = importlib.import_module(mod_name)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AttributeError(f"{mod_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{target} is not callable")
    return obj


def check_types(model: Any, group: Any, channels: int | None, factory: bool) -> bool:
    """Whether ``model`` has field types; raise ``ValueError`` where ``--group``/``--channels`` contradict them.

    A typed model transforms as its types say, so checking it for another group (or feeding it another
    number of channels) would test a law it does not claim, or silently test its own group instead.
    """
    from ..fields import FieldType
    from ..testing._declare import model_types

    t_in, t_out = model_types(model)
    if t_in is None and t_out is None:
        return False
    typed = t_in if t_in is not None else t_out
    assert typed is not None
    own = typed.group
    if group is not None and group != own:
        how = (
            "the factory ignored the group it was given"
            if factory
            else "drop --group to check its own group, or pass --factory and a callable that takes the group"
        )
        raise ValueError(f"`--group` asks for {group!r}, but the model's field types are over {own!r}: {how}")
    own_in = getattr(model, "in_type", None)  # a plain container's first typed layer may not be its first layer
    if channels is not None and isinstance(own_in, FieldType) and channels != own_in.size:
        raise ValueError(
            f"`--channels` is {channels}, but the model's input type {own_in!r} takes {own_in.size} "
            f"channel{'s' if own_in.size != 1 else ''}; drop --channels (it is read from the type)"
        )
    return True


def run(args: argparse.Namespace) -> int:
    import torch
    from torch import nn

    from ..testing import equivariance_report, layerwise_errors

    try:
        fn = load_callable(args.target)
        group = parse_group(args.group) if args.group else None
        if args.factory:
            if group is None:
                raise ValueError("`--factory` needs `--group`")
            model = fn(group)
            baseline: Any = None if args.no_baseline else fn
        else:
            model = fn()
            baseline = None if args.no_baseline else "auto"
        if not isinstance(model, nn.Module):
            raise TypeError(f"{args.target} must return an nn.Module, got {type(model).__name__}")
        angles = [float(a) for a in args.angles.split(",") if a.strip()]
        model = model.to(device=torch.device(args.device), dtype=getattr(torch, args.dtype))
        has_type = check_types(model, group, args.channels, args.factory)
        kwargs: dict[str, Any] = dict(
            output=args.output, angles=angles, baseline=baseline, seed=args.seed, size=args.size,
            dtype=getattr(torch, args.dtype), device=torch.device(args.device),
        )  # fmt: skip
        law: dict[str, Any] = {}  # what the harness cannot read from the model
        if not has_type:
            law = {"group": group, "in_type": args.channels}
        elif args.channels is not None:  # checked above: the model has no input type of its own
            law = {"in_type": args.channels}
        kwargs.update(law)
        report = equivariance_report(model, **kwargs)
    except Exception as e:  # the user's code: show the reason, not a traceback
        print(f"eqcnn check: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(report)
    if args.layerwise:
        failing = [r for r in report.rows if r.status == "FAIL" and r.transform.startswith("rot")]
        row = failing[0] if failing else None
        if row is not None:
            m = re.match(r"rot ([\d.]+) deg(, flip)?", row.transform)
            assert m is not None
            from ..testing import Rotation

            t = Rotation(float(m.group(1)), bool(m.group(2)))
            print()
            print(layerwise_errors(model, g=t, size=report.input_shape[-1], output=args.output, **law))
    return 0 if report.passed and report.judged else 1  # checking nothing is not a pass
