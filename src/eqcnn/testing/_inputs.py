"""Test inputs: band-limited random images and a procedural natural-looking scene (no download)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .._checks import check_dtype, check_int, check_number, describe

__all__ = ["band_limited_noise", "natural_image"]


def _shape(shape: Sequence[int] | int, name: str = "shape") -> tuple[int, ...]:
    if isinstance(shape, (str, bytes, bool)) or not (isinstance(shape, int) or hasattr(shape, "__iter__")):
        raise TypeError(f"`{name}` must be an int or a sequence of ints ending with (H, W), got {describe(shape)}")
    if isinstance(shape, int):
        shape = (shape, shape)
    shape = tuple(check_int(name, s, minimum=1) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"`{name}` must end with (H, W), got {shape}")
    return shape


def band_limited_noise(
    shape: Sequence[int] | int,
    sigma: float = 1.5,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: Any = None,
) -> torch.Tensor:
    """Smoothed Gaussian noise: white noise low-passed by a Gaussian of ``sigma`` pixels.

    The filter is applied in the Fourier domain, so the noise is periodic
    (circular shifts do not create edges), isotropic and band-limited: a
    rotation by any angle resamples it with little interpolation error, which
    is what approximate (off-grid) equivariance checks need.  Each image and
    channel has unit standard deviation; the mean is left random, so global
    averages are not zero.  The numbers are made
    on the CPU from ``seed`` in float64 and then cast and moved, so every
    device and dtype sees the same input.

    Args:
        shape: ``(..., H, W)``, e.g. ``(B, C, H, W)``; an int ``n`` means ``(n, n)``.
        sigma: standard deviation of the Gaussian blur in pixels (``0``: white noise).

    Example:
        >>> from eqcnn.testing import band_limited_noise
        >>> x = band_limited_noise((2, 3, 16, 16))
        >>> x.shape, round(float(x[0, 0].std()), 3)
        (torch.Size([2, 3, 16, 16]), 1.0)
    """
    shape = _shape(shape)
    sigma = check_number("sigma", sigma, minimum=0)
    check_dtype("dtype", dtype)
    gen = torch.Generator().manual_seed(check_int("seed", seed))
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    H, W = shape[-2:]
    if sigma > 0:
        fy = torch.fft.fftfreq(H, dtype=torch.float64)[:, None]
        fx = torch.fft.rfftfreq(W, dtype=torch.float64)[None, :]
        lowpass = torch.exp(-2 * math.pi**2 * sigma**2 * (fy**2 + fx**2))
        x = torch.fft.irfft2(torch.fft.rfft2(x) * lowpass, s=(H, W))
    if H * W > 1:  # unit variance; the mean is left random, so global averages are not zero
        x = x / x.std(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    return x.to(dtype=dtype, device=device)


def _smoothstep(d: torch.Tensor, width: float = 0.7) -> torch.Tensor:
    """A soft edge: 0 for d << 0, 1 for d >> 0, about ``width`` pixels wide."""
    return torch.sigmoid(d / width)


def natural_image(
    size: int | Sequence[int] = 64,
    channels: int = 3,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: Any = None,
) -> torch.Tensor:
    """A smooth synthetic outdoor scene of shape ``(channels, H, W)``, values in ``[0, 1]``.

    Sky with a vertical gradient, a sun, soft clouds, a line of hills and a
    textured meadow: piecewise-smooth content with soft (about one pixel) edges,
    closer to photographs than noise is, made procedurally from ``seed`` so no
    download is needed.  ``channels=3`` is RGB, ``1`` is its luminance; more
    channels add band-limited texture channels.

    Example:
        >>> from eqcnn.testing import natural_image
        >>> img = natural_image(32)
        >>> img.shape, bool(img.min() >= 0), bool(img.max() <= 1)
        (torch.Size([3, 32, 32]), True, True)
    """
    H, W = _shape(size, "size")[-2:]
    check_int("channels", channels, minimum=1)
    check_dtype("dtype", dtype)
    gen = torch.Generator().manual_seed(check_int("seed", seed))

    def rnd(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=gen, dtype=torch.float64))

    yy = torch.linspace(0, 1, H, dtype=torch.float64)[:, None].expand(H, W)
    xx = torch.linspace(0, 1, W, dtype=torch.float64)[None, :].expand(H, W)
    px = 1.0 / max(H, W)  # one pixel in these units
    sky_top, sky_bottom = torch.tensor([0.25, 0.45, 0.85]), torch.tensor([0.7, 0.85, 1.0])
    img = sky_top[:, None, None] * (1 - yy) + sky_bottom[:, None, None] * yy

    # clouds: soft, low-frequency blobs
    cloud = band_limited_noise((H, W), sigma=max(H, W) / 10, seed=seed + 1, dtype=torch.float64)
    cloud = (cloud - 0.6).clamp_min(0) * (yy < 0.6)
    img = img + 0.35 * cloud.clamp(max=1)[None]

    # sun
    cy, cx, r = rnd(0.1, 0.3), rnd(0.15, 0.85), rnd(0.06, 0.1)
    sun = _smoothstep((r - torch.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)) / px)
    img = img * (1 - sun) + torch.tensor([1.0, 0.9, 0.5])[:, None, None] * sun

    # hills: a smooth horizon
    a1, a2, p1, p2 = rnd(0.04, 0.08), rnd(0.02, 0.04), rnd(0, 6.3), rnd(0, 6.3)
    horizon = 0.55 + a1 * torch.sin(2 * math.pi * 1.3 * xx + p1) + a2 * torch.sin(2 * math.pi * 3.1 * xx + p2)
    hill = _smoothstep((yy - horizon) / px)
    texture = band_limited_noise((H, W), sigma=1.0, seed=seed + 2, dtype=torch.float64)
    ground = torch.tensor([0.25, 0.55, 0.2])[:, None, None] * (1 - 0.5 * yy) + 0.06 * texture
    img = img * (1 - hill) + ground * hill

    # a tree: trunk and crown
    tx = rnd(0.2, 0.8)
    trunk = _smoothstep((0.015 - (xx - tx).abs()) / px) * _smoothstep((yy - 0.5) / px) * _smoothstep((0.75 - yy) / px)
    crown = _smoothstep((0.09 - torch.sqrt((yy - 0.47) ** 2 + 0.6 * (xx - tx) ** 2)) / px)
    img = img * (1 - trunk) + torch.tensor([0.35, 0.22, 0.1])[:, None, None] * trunk
    img = img * (1 - crown) + (torch.tensor([0.1, 0.4, 0.12])[:, None, None] + 0.05 * texture) * crown

    img = img.clamp(0, 1)
    if channels == 1:
        img = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2])[None]
    elif channels > 3:
        extra = band_limited_noise((channels - 3, H, W), sigma=2.0, seed=seed + 3, dtype=torch.float64)
        img = torch.cat([img, (0.5 + 0.15 * extra).clamp(0, 1)])
    elif channels == 2:
        img = img[:2]
    return img.to(dtype=dtype, device=device)
