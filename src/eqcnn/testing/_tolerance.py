"""One tolerance table per dtype, the baseline ratio for approximate transforms, and TF32 control."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["BASELINE_RATIO", "TOLERANCES", "no_tf32", "tolerance"]

#: Largest relative L2 error (inside the valid region) at which an *exact*
#: transform (rotation by a multiple of 90 degrees in G, reflection in
#: Dihedral(N), integer shift) still counts as exact.  The only source of error
#: left for those is floating-point rounding, whose size depends on the dtype.
TOLERANCES: dict[torch.dtype, float] = {
    torch.float64: 1e-10,
    torch.float32: 1e-5,
    torch.float16: 1e-2,
    torch.bfloat16: 5e-2,
}

#: An *approximate* transform (an angle in G that does not map the pixel grid
#: onto itself, e.g. 45 degrees in Cyclic(8)) passes when the model's relative
#: error is at most ``BASELINE_RATIO`` times the error of its baseline, the
#: same architecture without the symmetry constraint, on the same input.  Not
#: applied to invariant outputs, where a globally pooled baseline is nearly
#: invariant too: those rows are reported, not judged.
BASELINE_RATIO: float = 0.25


def tolerance(dtype: torch.dtype) -> float:
    """The entry of :data:`TOLERANCES` for ``dtype``.

    Example:
        >>> import torch
        >>> from eqcnn.testing import tolerance
        >>> tolerance(torch.float32)
        1e-05
    """
    try:
        return TOLERANCES[dtype]
    except KeyError:
        known = ", ".join(str(d).replace("torch.", "") for d in TOLERANCES)
        raise ValueError(f"`dtype` must be one of {known} to have a tolerance, got {dtype}") from None


@contextmanager
def no_tf32() -> Iterator[None]:
    """Switch TF32 off for matmuls and cuDNN convolutions inside the block; restore on exit.

    On Ampere and newer GPUs PyTorch may run float32 convolutions in TF32 (10-bit
    mantissa), a GPU-only error of about 1e-3 that would hide or fake a broken
    symmetry.  Exact checks run inside this context manager.

    Example:
        >>> import torch
        >>> from eqcnn.testing import no_tf32
        >>> with no_tf32():
        ...     torch.backends.cudnn.allow_tf32
        False
    """
    matmul = torch.backends.cuda.matmul.allow_tf32
    cudnn = torch.backends.cudnn.allow_tf32
    precision = torch.get_float32_matmul_precision()
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn
        torch.set_float32_matmul_precision(precision)
