"""One line per eqcnn.nn layer: a factory that builds it for a given group.

Format (for generic property tests, e.g. the eqcnn.testing harness):

    LAYER_ZOO: list[tuple[str, Callable[[PointGroup], EquivariantModule]]]

Each factory takes a group (``Trivial()``, ``Cyclic(N)``, ``Dihedral(N)``) and
returns a freshly built layer (its weights are drawn from the global torch
generator, so seed it first for reproducible layers).  Feed it a tensor of shape ``(B, layer.in_type.size, H, H)``
and compare ``layer(in_type.transform(x, g))`` with
``layer.out_type.transform(layer(x), g)``.

Geometry: layers whose name is in ``ODD_SIZES_ONLY`` subsample with stride 2 and
are exact only for odd ``H`` (``(H + 2p - k') % 2 == 0``); every other layer is
exact at every size.  ``FieldDropout`` is random in training mode: seed the
generator before each of the two calls (or call ``.eval()``).
Every layer is exact (float32 relative error < 1e-5) for the elements that map
the pixel grid onto itself (``g.is_grid_symmetry``).
"""

from __future__ import annotations

from collections.abc import Callable

import eqcnn
from eqcnn import FieldType, PointGroup
from eqcnn import nn as enn

__all__ = ["LAYER_ZOO", "ODD_SIZES_ONLY", "RANDOM_IN_TRAINING", "mixed", "quotients", "smaller", "spectral", "vector"]


def mixed(G: PointGroup) -> FieldType:
    """Two scalar fields and two regular fields."""
    return G.trivial(2) + G.regular(2)


def vector(G: PointGroup) -> FieldType:
    """Fields of a non-permutation irrep (the frequency-1 irrep; scalars for ``Trivial()``) plus one scalar."""
    if G.order == 1:
        return G.trivial(3)
    if G.has_reflections:
        return G.irreps_field(1, 1, multiplicity=2) + G.irreps_field(1, 0) + G.trivial(1)
    return G.irreps_field(1, multiplicity=2) + G.trivial(1)


def quotients(G: PointGroup) -> FieldType:
    """Quotient fields (permutations of cosets) and a regular one: ``C_N / C_p`` for the smallest prime ``p``
    dividing ``N``; ``D_N / C_N`` and ``D_N / D_1`` (escnn's ``Dn/flips``); the trivial field for ``Trivial()``."""
    if G.order == 1:
        return G.trivial(2)
    if G.has_reflections:
        return G.quotient(eqcnn.Cyclic(G.N)) + G.quotient(eqcnn.Dihedral(1)) + G.regular(1)
    p = next(d for d in range(2, G.N + 1) if G.N % d == 0)
    return G.quotient(eqcnn.Cyclic(p)) + G.regular(1)


def spectral(G: PointGroup) -> FieldType:
    """A field of every irrep of the group, once (the Fourier coefficients of a function on it)."""
    return FieldType(G, [eqcnn.groups.direct_sum(G.irreps(), "spectral")])


def smaller(G: PointGroup) -> PointGroup:
    """A subgroup whose restriction reorders channels: N -> N / 2 when N is even, else Trivial()."""
    if G.N % 2:
        return eqcnn.Trivial()
    return (eqcnn.Dihedral if G.has_reflections else eqcnn.Cyclic)(G.N // 2)


LAYER_ZOO: list[tuple[str, Callable[[PointGroup], enn.EquivariantModule]]] = [
    ("Conv2d", lambda G: enn.Conv2d(mixed(G), G.regular(2), 3, padding=1)),
    ("Conv2d-lowpass", lambda G: enn.Conv2d(vector(G) + mixed(G), G.regular(2), 5, padding=2, basis="lowpass")),
    ("ConvTranspose2d", lambda G: enn.ConvTranspose2d(mixed(G), G.regular(2), 3, padding=1)),
    ("ConvTranspose2d-stride2", lambda G: enn.ConvTranspose2d(mixed(G), vector(G), 3, stride=2, padding=1)),
    ("ReLU", lambda G: enn.ReLU(mixed(G))),
    ("ELU", lambda G: enn.ELU(mixed(G))),
    ("GELU", lambda G: enn.GELU(mixed(G))),
    ("LeakyReLU", lambda G: enn.LeakyReLU(mixed(G), 0.2)),
    ("SiLU", lambda G: enn.SiLU(mixed(G))),
    ("Sigmoid", lambda G: enn.Sigmoid(mixed(G))),
    ("Tanh", lambda G: enn.Tanh(mixed(G))),
    ("NormNonlinearity", lambda G: enn.NormNonlinearity(vector(G) + mixed(G))),
    ("NormNonlinearity-squash", lambda G: enn.NormNonlinearity(vector(G), "squash")),
    ("GatedNonlinearity", lambda G: enn.GatedNonlinearity(enn.GatedNonlinearity.input_type(vector(G) + mixed(G)))),
    ("BatchNorm2d", lambda G: enn.BatchNorm2d(mixed(G) + vector(G))),
    ("BatchNorm2d-eval", lambda G: enn.BatchNorm2d(mixed(G) + vector(G)).eval()),
    ("GroupNorm", lambda G: enn.GroupNorm(2, mixed(G))),
    ("GroupNorm-irreps", lambda G: enn.GroupNorm(1, vector(G))),
    ("MaxPool2d", lambda G: enn.MaxPool2d(mixed(G), 3, stride=2, padding=1)),
    ("AvgPool2d", lambda G: enn.AvgPool2d(vector(G), 3, stride=2, padding=1)),
    ("AvgPool2d-divisor", lambda G: enn.AvgPool2d(vector(G), 3, stride=2, padding=1, divisor_override=4)),
    ("AdaptiveAvgPool2d", lambda G: enn.AdaptiveAvgPool2d(vector(G), 3)),
    ("GaussianAvgPool2d", lambda G: enn.GaussianAvgPool2d(vector(G) + mixed(G), spread=0.2)),
    ("AdaptiveMaxPool2d", lambda G: enn.AdaptiveMaxPool2d(mixed(G), 4)),
    ("BlurPool2d", lambda G: enn.BlurPool2d(vector(G) + mixed(G), stride=2)),
    ("GroupPool", lambda G: enn.GroupPool(mixed(G))),
    ("GroupPool-mean", lambda G: enn.GroupPool(mixed(G), "mean")),
    ("FieldDropout", lambda G: enn.FieldDropout(mixed(G) + vector(G), p=0.5)),
    ("Upsample", lambda G: enn.Upsample(vector(G), scale_factor=2)),
    ("Upsample-bilinear", lambda G: enn.Upsample(mixed(G), size=13, mode="bilinear")),
    ("Upsample-bilinear-x1.5", lambda G: enn.Upsample(mixed(G), scale_factor=1.5, mode="bilinear")),
    ("Identity", lambda G: enn.Identity(mixed(G))),
    ("AntiAliased", lambda G: enn.AntiAliased(enn.ELU(mixed(G)))),
    ("AntiAliased-norm", lambda G: enn.AntiAliased(enn.NormNonlinearity(vector(G) + mixed(G)), factor=3, sigma=0.8)),
    (
        "AntiAliased-gated",
        lambda G: enn.AntiAliased(enn.GatedNonlinearity(enn.GatedNonlinearity.input_type(vector(G) + mixed(G)))),
    ),
    ("AntiAliased-fourier", lambda G: enn.AntiAliased(enn.FourierPointwise(spectral(G) + vector(G), "elu"), factor=1)),
    ("Conv2d-quotient", lambda G: enn.Conv2d(quotients(G), quotients(G) + vector(G), 3, padding=1)),
    ("ReLU-quotient", lambda G: enn.ReLU(quotients(G))),
    ("MaxPool2d-quotient", lambda G: enn.MaxPool2d(quotients(G), 3, stride=2, padding=1)),
    ("GroupPool-quotient", lambda G: enn.GroupPool(quotients(G) + mixed(G))),
    ("BatchNorm2d-quotient", lambda G: enn.BatchNorm2d(quotients(G) + vector(G))),
    ("FourierPointwise", lambda G: enn.FourierPointwise(spectral(G) + vector(G), "elu")),
    ("NormPool", lambda G: enn.NormPool(vector(G) + mixed(G))),
    ("Restrict", lambda G: enn.Restrict(mixed(G) + vector(G) + quotients(G), smaller(G))),
    ("Restrict-rotations", lambda G: enn.Restrict(mixed(G) + vector(G), eqcnn.Cyclic(G.N))),
    (
        "Sequential",
        lambda G: enn.Sequential(
            enn.Conv2d(G.trivial(1), G.regular(2), 3, padding=1, bias=False),
            enn.BatchNorm2d(G.regular(2)),
            enn.ReLU(G.regular(2)),
        ),
    ),
    (
        "ResidualBlock",
        lambda G: enn.ResidualBlock(
            enn.Conv2d(mixed(G), mixed(G), 3, padding=1), enn.Conv2d(mixed(G), mixed(G), 1), enn.ELU(mixed(G))
        ),
    ),
]

ODD_SIZES_ONLY = {"MaxPool2d", "MaxPool2d-quotient", "AvgPool2d", "AvgPool2d-divisor", "BlurPool2d"}
RANDOM_IN_TRAINING = {"FieldDropout"}
