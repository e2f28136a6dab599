"""Moving pixels: the action of a plane isometry on the spatial axes of an image.

Plane coordinates of pixel ``(i, j)`` of an ``H x W`` image are
``x = j - (W - 1) / 2`` (right) and ``y = (H - 1) / 2 - i`` (up), so a positive
angle turns counter-clockwise exactly like ``torch.rot90(x, 1, dims=(-2, -1))``.
A reflection is the mirror ``x -> -x`` (``torch.flip(x, dims=[-1])``), applied
before the rotation.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from .._checks import check_choice, check_number, check_tensor_arg

__all__ = ["move_voxels", "rotate_pixels"]

Interpolation = Literal["bilinear", "bicubic", "nearest"]


def rotate_pixels(
    x: torch.Tensor,
    angle: float,
    reflection: bool = False,
    interpolation: Interpolation = "bicubic",
) -> torch.Tensor:
    """Move the pixels of ``x`` (shape ``(..., H, W)``) by the isometry ``R(angle) F^reflection``.

    Exact (a permutation of pixels) when ``angle`` is a multiple of 90 degrees
    (for 90 and 270 degrees the image must be square); otherwise the image is
    resampled with ``interpolation`` about its centre and zero outside.
    """
    check_tensor_arg("x", x, tuple(range(2, 9)), "(..., H, W)")
    angle = check_number("angle", angle)
    check_choice("interpolation", interpolation, ("bilinear", "bicubic", "nearest"))
    if reflection:
        x = torch.flip(x, dims=[-1])
    quarter = angle / (math.pi / 2)
    q = round(quarter)
    if abs(quarter - q) < 1e-9:
        q %= 4
        if q % 2 == 1 and x.shape[-1] != x.shape[-2]:
            raise ValueError(f"a 90-degree turn needs a square image, got spatial shape {tuple(x.shape[-2:])}")
        return torch.rot90(x, q, dims=(-2, -1)) if q else x
    return _resample_rotation(x, angle, interpolation)


def _resample_rotation(x: torch.Tensor, angle: float, mode: str) -> torch.Tensor:
    H, W = x.shape[-2:]
    lead = x.shape[:-3] if x.dim() >= 4 else ()
    if x.dim() < 3:
        raise ValueError(f"expected a tensor (..., C, H, W), got shape {tuple(x.shape)}")
    flat = x.reshape(-1, *x.shape[-3:])
    dtype = flat.dtype if flat.dtype in (torch.float32, torch.float64) else torch.float32
    # Output pixel p (plane coords) takes the value of the input at R(-angle) p.
    dev = flat.device
    i = torch.arange(H, dtype=torch.float64, device=dev)
    j = torch.arange(W, dtype=torch.float64, device=dev)
    ii, jj = torch.meshgrid(i, j, indexing="ij")
    px = jj - (W - 1) / 2
    py = (H - 1) / 2 - ii
    c, s = math.cos(angle), math.sin(angle)
    qx = c * px + s * py
    qy = -s * px + c * py
    # a 1-pixel axis gets a zero pixel on each side: with align_corners=True, grid_sample maps every
    # coordinate of a size-1 axis to its one pixel, which would repeat it instead of "zero outside"
    ph, pw = int(H == 1), int(W == 1)
    src = F.pad(flat.to(dtype), (pw, pw, ph, ph)) if ph or pw else flat.to(dtype)
    # back to grid_sample's normalised coordinates (align_corners=True); the padded grid has the same centre
    u = qx / ((W + 2 * pw - 1) / 2)
    v = -qy / ((H + 2 * ph - 1) / 2)
    grid = torch.stack([u, v], dim=-1).to(dtype)[None].expand(flat.shape[0], H, W, 2)
    out = F.grid_sample(src, grid, mode=mode, padding_mode="zeros", align_corners=True)
    out = out.to(x.dtype)
    return out.reshape(*lead, *x.shape[-3:]) if lead else out.reshape(x.shape)


def move_voxels(x: torch.Tensor, matrix) -> torch.Tensor:
    """Move the voxels of ``x`` (shape ``(..., D, H, W)``) by a signed permutation ``matrix`` (3x3).

    The output at centred coordinates ``p`` is the input at ``matrix^T p``: a
    permutation of the last three axes and flips, exact in floating point.  An
    element that exchanges axes of different sizes needs a cube (a
    ``ValueError`` otherwise).
    """
    import numpy as np

    check_tensor_arg("x", x, tuple(range(3, 10)), "(..., D, H, W)")
    m = np.asarray(matrix)
    if m.shape != (3, 3) or not (np.all(np.isin(m, (-1, 0, 1))) and np.all(np.abs(m).sum(axis=0) == 1)
                                 and np.all(np.abs(m).sum(axis=1) == 1)):  # fmt: skip
        raise ValueError(f"`matrix` must be a 3x3 signed permutation matrix, got {m.tolist()}")
    # column a holds its nonzero in row sigma(a), with sign s_a: the output at p is the input at q with
    # q_a = s_a p_sigma(a), i.e. flip the axes with s_a = -1, then output axis b is input axis sigma^-1(b)
    sigma = [int(np.flatnonzero(m[:, a])[0]) for a in range(3)]
    signs = [int(m[sigma[a], a]) for a in range(3)]
    lead = x.dim() - 3
    shape = x.shape[-3:]
    inv = [0, 0, 0]
    for a in range(3):
        inv[sigma[a]] = a
    if any(shape[inv[b]] != shape[b] for b in range(3)):
        raise ValueError(
            f"this element exchanges spatial axes of different sizes: it needs a cube, got spatial shape {tuple(shape)}"
        )
    flips = [lead + a for a in range(3) if signs[a] < 0]
    y = torch.flip(x, dims=flips) if flips else x
    if inv != [0, 1, 2]:
        y = y.permute(*range(lead), *(lead + inv[b] for b in range(3)))
    return y
