"""The 45-degree comparison of issue #5: eqcnn vs escnn vs a plain CNN of the same shape.

Network: 7x7 lifting conv to 8 regular fields of Cyclic(8), ReLU, 5x5 conv 8 -> 8
regular fields, ReLU, max group pooling (8 invariant channels).  Input: a
band-limited 65x65 image (a random trigonometric polynomial with frequencies
below 1/8 cycle per pixel, a quarter of the Nyquist limit), rotated exactly by evaluating the polynomial at
the rotated coordinates.  Output: rotated by bicubic interpolation.  Error:
relative L2 of ``net(R x) - R net(x)`` inside the disk of radius 20 around the
centre (far enough from the border that no padding enters).

Used by test_rotation45.py and by benchmarks/band_limit_study.py (not a test module itself).
"""

from __future__ import annotations

import math

import torch

import eqcnn
from eqcnn import nn as enn
from eqcnn.fields import rotate_pixels

SIZE, RADIUS, ANGLE = 65, 20.0, math.pi / 4


def plane_waves(seed: int, cutoff: float = 0.125, n_waves: int = 64):
    """A random band-limited image as a function ``f(qx, qy)`` of plane coordinates (float64 tensors of any
    shape): a sum of ``n_waves`` plane waves with spatial frequency below ``cutoff`` cycles per pixel."""
    g = torch.Generator().manual_seed(10_000 + seed)
    freq = torch.rand(n_waves, generator=g, dtype=torch.float64) * cutoff
    theta = torch.rand(n_waves, generator=g, dtype=torch.float64) * 2 * math.pi
    phase = torch.rand(n_waves, generator=g, dtype=torch.float64) * 2 * math.pi
    amp = torch.randn(n_waves, generator=g, dtype=torch.float64)

    def sample(qx: torch.Tensor, qy: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * qx.dim()
        arg = 2 * math.pi * freq.view(shape) * (torch.cos(theta).view(shape) * qx + torch.sin(theta).view(shape) * qy)
        return (amp.view(shape) * torch.cos(arg + phase.view(shape))).sum(0) / math.sqrt(n_waves)

    return sample


def plane_grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Plane coordinates ``(x, y)`` (float64, ``(size, size)``) of the pixels: x right, y up, 0 at the centre."""
    c = (size - 1) / 2
    ii, jj = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    return jj - c, c - ii


def band_limited_pair(seed: int, size: int = SIZE, angle: float = ANGLE, cutoff: float = 0.125, n_waves: int = 64):
    """``(x, x_rotated)``, each ``(1, 1, size, size)`` float32: a sum of random plane waves with
    spatial frequency below ``cutoff`` cycles per pixel, sampled on the grid and on the grid rotated by ``-angle``."""
    sample = plane_waves(seed, cutoff, n_waves)
    px, py = plane_grid(size)
    # (R x)(p) = x(R^-1 p)
    ca, sa = math.cos(angle), math.sin(angle)
    x = sample(px, py)
    xr = sample(ca * px + sa * py, -sa * px + ca * py)
    return x.float()[None, None], xr.float()[None, None]


def sampled_disk(size: int = SIZE, radius: float = RADIUS, every: int = 1) -> torch.Tensor:
    """The disk's pixels whose row and column are multiples of ``every`` (``every=1``: the whole disk)."""
    m = disk_mask(size, radius)
    m[torch.arange(size) % every != 0] = False
    m[:, torch.arange(size) % every != 0] = False
    return m


def exact_turned_output(net, sample, angle: float, mask: torch.Tensor, reach: int) -> torch.Tensor:
    """``(R net(x))(p)`` for the pixels ``p`` of ``mask``, ``(C, points)``, without interpolating the output.

    ``(R net(x))(p) = net(x)(R^-1 p)``, and ``net(x)`` at the off-grid point ``R^-1 p`` is the net run on the
    image ``sample`` (a function of plane coordinates) sampled on the lattice ``R^-1 p + Z^2``: convolutions
    and pointwise layers commute with translations of the lattice. ``reach`` is the half-size of the patch
    each such run sees; it must cover the net's receptive field so that no padding enters.
    """
    px, py = plane_grid(mask.shape[-1])
    ca, sa = math.cos(angle), math.sin(angle)
    qx, qy = ca * px[mask] + sa * py[mask], -sa * px[mask] + ca * py[mask]  # R^-1 p for each p of the mask
    ox, oy = plane_grid(2 * reach + 1)
    patches = sample(qx[:, None, None] + ox[None], qy[:, None, None] + oy[None]).float()[:, None]
    with torch.no_grad():
        return torch.cat([net(chunk)[..., reach, reach] for chunk in patches.split(256)]).T


def lattice_rotation_error(
    net, seed: int, angle: float = ANGLE, size: int = SIZE, radius: float = RADIUS, reach: int = 8, every: int = 1
) -> float:
    """Relative L2 error of ``net(R x)`` against the exact ``R net(x)`` (:func:`exact_turned_output`) inside
    the disk, for an invariant output; ``every`` compares only :func:`sampled_disk` (``every**2`` times faster)."""
    sample = plane_waves(seed)
    px, py = plane_grid(size)
    ca, sa = math.cos(angle), math.sin(angle)
    xr = sample(ca * px + sa * py, -sa * px + ca * py).float()[None, None]
    m = sampled_disk(size, radius, every)
    target = exact_turned_output(net, sample, angle, m, reach)
    with torch.no_grad():
        yr = net(xr)[0][:, m]
    return float((yr - target).norm() / target.norm())


def disk_mask(size: int = SIZE, radius: float = RADIUS) -> torch.Tensor:
    c = (size - 1) / 2
    ii, jj = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return ((ii - c) ** 2 + (jj - c) ** 2) <= radius**2


def rotation_error(net, x: torch.Tensor, xr: torch.Tensor, angle: float = ANGLE) -> float:
    """Relative L2 error of ``net(R x)`` against ``R net(x)`` inside the disk."""
    with torch.no_grad():
        y, yr = net(x), net(xr)
    target = rotate_pixels(y, angle, interpolation="bicubic")
    m = disk_mask(x.shape[-1])
    return float((yr - target)[..., m].norm() / target[..., m].norm())


def eqcnn_net(seed: int, antialias: float | None = None, factor: int = 2, basis: str = "auto") -> torch.nn.Module:
    """The C8 net; ``antialias`` (a blur sigma in pixels) runs each ReLU as ``enn.AntiAliased(ReLU, factor, sigma)``
    (``factor=1``: the blur alone, on the input's grid); ``basis`` is the convolutions' (e.g. ``"lowpass"``)."""
    torch.manual_seed(seed)
    G = eqcnn.Cyclic(8)
    h = G.regular(8)

    def relu() -> enn.EquivariantModule:
        return enn.ReLU(h) if antialias is None else enn.AntiAliased(enn.ReLU(h), factor, sigma=antialias)

    return enn.Sequential(
        enn.Conv2d(G.trivial(1), h, 7, padding=3, basis=basis),
        relu(),
        enn.Conv2d(h, h, 5, padding=2, basis=basis),
        relu(),
        enn.GroupPool(h, "max"),
    ).eval()


def escnn_net(seed: int) -> torch.nn.Module:
    from eqcnn.interop.escnn import EscnnModule, to_escnn_type  # imports escnn quietly

    torch.manual_seed(seed)
    import escnn.nn as esnn

    G = eqcnn.Cyclic(8)
    ti, th = to_escnn_type(G.trivial(1)), to_escnn_type(G.regular(8))
    net = esnn.SequentialModule(
        esnn.R2Conv(ti, th, 7, padding=3),
        esnn.ReLU(th),
        esnn.R2Conv(th, th, 5, padding=2),
        esnn.ReLU(th),
        esnn.GroupPooling(th),
    )
    return EscnnModule(net).eval()


class _PlainNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 64, 7, padding=3)
        self.c2 = torch.nn.Conv2d(64, 64, 5, padding=2)

    def forward(self, x):
        y = torch.relu(self.c2(torch.relu(self.c1(x))))
        return y.unflatten(1, (8, 8)).amax(2)


def plain_net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return _PlainNet().eval()


# -- the same comparison over SO(2): band-limited fields (irreps 0..3), Fourier ELUs, norm pooling -----------
SO2_L, SO2_SAMPLES = 3, 16


def eqcnn_so2_net(seed: int, basis: str = "auto", antialias: float | None = None) -> torch.nn.Module:
    """7x7 lifting conv to 8 ``bl_regular`` fields of SO2(3), Fourier ELU (16 samples), 5x5 conv 8 -> 8,
    Fourier ELU, norm pooling (8 invariant channels); ``antialias`` (a blur sigma in pixels) runs each
    Fourier ELU as ``enn.AntiAliased(FourierELU, sigma=...)``."""
    torch.manual_seed(seed)
    G = eqcnn.SO2(SO2_L)
    h = G.bl_regular(8)

    def elu() -> enn.EquivariantModule:
        act = enn.FourierELU(h, N=SO2_SAMPLES)
        return act if antialias is None else enn.AntiAliased(act, sigma=antialias)

    return enn.Sequential(
        enn.Conv2d(G.trivial(1), h, 7, padding=3, basis=basis),
        elu(),
        enn.Conv2d(h, h, 5, padding=2, basis=basis),
        elu(),
        enn.NormPool(h),
    ).eval()


def escnn_so2_net(seed: int) -> torch.nn.Module:
    from eqcnn.interop.escnn import EscnnModule  # imports escnn quietly

    torch.manual_seed(seed)
    import escnn.gspaces as gspaces
    import escnn.nn as esnn

    gs = gspaces.rot2dOnR2(-1, maximum_frequency=SO2_L)
    irreps = gs.fibergroup.bl_irreps(SO2_L)
    act1 = esnn.FourierELU(gs, 8, irreps=irreps, N=SO2_SAMPLES)
    act2 = esnn.FourierELU(gs, 8, irreps=irreps, N=SO2_SAMPLES)
    net = esnn.SequentialModule(
        esnn.R2Conv(esnn.FieldType(gs, [gs.trivial_repr]), act1.in_type, 7, padding=3),
        act1,
        esnn.R2Conv(act1.in_type, act2.in_type, 5, padding=2),
        act2,
        esnn.NormPool(act2.in_type),
    )
    return EscnnModule(net).eval()


class _PlainNormNet(torch.nn.Module):
    """The plain CNN of the SO(2) net's shape: 56 channels, ELUs, the norm of each 7-channel group."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 56, 7, padding=3)
        self.c2 = torch.nn.Conv2d(56, 56, 5, padding=2)

    def forward(self, x):
        y = torch.nn.functional.elu(self.c2(torch.nn.functional.elu(self.c1(x))))
        return y.unflatten(1, (8, 7)).norm(dim=2)


def plain_so2_net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return _PlainNormNet().eval()
