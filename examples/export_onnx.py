"""Export an equivariant model to plain PyTorch and to ONNX, and check that it still is invariant.

``eqcnn.nn.export`` turns every eqcnn layer into its plain PyTorch equivalent
(each convolution becomes a ``torch.nn.Conv2d`` holding its expanded filter),
so the result runs without eqcnn: with ``torch.jit``, ``torch.onnx`` or any
tool that takes an ``nn.Module``. If ``onnx`` and ``onnxruntime`` are not
installed, the example says so and saves a TorchScript file instead.

    python examples/export_onnx.py [--quick] [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import warnings
from pathlib import Path

import torch

import eqcnn
from eqcnn import nn as enn
from eqcnn.datasets import load_digits
from eqcnn.models import SFCNN


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller model (for CI)")
    parser.add_argument("--output-dir", default=None, help="where to write the exported files (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.output_dir is None:
        with tempfile.TemporaryDirectory(prefix="eqcnn_export_") as tmp:
            export_and_check(Path(tmp), args.quick)
        print("(a temporary folder, now removed; pass --output-dir to keep the files)")
    else:
        out_dir = Path(args.output_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        export_and_check(out_dir, args.quick)


def export_and_check(out_dir: Path, quick: bool) -> None:
    """Export an SFCNN to ``out_dir`` (ONNX if possible, and TorchScript) and compare the outputs."""
    torch.manual_seed(0)
    model = SFCNN(eqcnn.Cyclic(8), width=0.25 if quick else 0.5).eval()  # untrained is enough to compare
    x, _ = load_digits("test", limit=8)  # (8, 1, 29, 29)
    turned = torch.rot90(x, 1, dims=(-2, -1))

    plain = enn.export(model).eval()  # torch.nn modules only
    with torch.no_grad():
        y = model(x)
        print(f"eqcnn model -> plain PyTorch: max |difference| {float((plain(x) - y).abs().max()):.1e}")
        print(
            f"plain PyTorch, logits of a 90-degree turned digit vs upright: rel. error {rel_err(plain(turned), y):.1e}"
        )

    have_onnx = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))
    if have_onnx:
        import onnxruntime as ort

        path = out_dir / "sfcnn_c8.onnx"
        with warnings.catch_warnings():  # the TorchScript-based exporter is deprecated and chatty
            warnings.simplefilter("ignore")
            # dynamo=False: the TorchScript-based exporter, which needs no onnxscript
            torch.onnx.export(
                plain,
                (x,),
                str(path),
                input_names=["digits"],
                output_names=["logits"],
                dynamic_axes={"digits": {0: "batch"}, "logits": {0: "batch"}},
                dynamo=False,
            )
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        y_onnx = torch.from_numpy(session.run(None, {"digits": x.numpy()})[0])
        y_onnx_turned = torch.from_numpy(session.run(None, {"digits": turned.contiguous().numpy()})[0])
        print(f"ONNX ({path.name}, onnxruntime): max |difference| to eqcnn {float((y_onnx - y).abs().max()):.1e}")
        print(f"ONNX, turned vs upright: rel. error {rel_err(y_onnx_turned, y_onnx):.1e}")
    else:
        print("onnx/onnxruntime are not installed (pip install onnx onnxruntime); exporting with TorchScript instead")
    path = out_dir / "sfcnn_c8.pt"
    scripted = torch.jit.trace(plain, x)
    scripted.save(str(path))
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        print(f"TorchScript ({path.name}): max |difference| to eqcnn {float((loaded(x) - y).abs().max()):.1e}")
    print(f"files written to {out_dir}")


if __name__ == "__main__":
    main()
