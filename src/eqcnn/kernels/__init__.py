"""Spaces of equivariant filters (layer 3 of eqcnn).

:func:`kernel_basis` returns the cached orthonormal basis of filters that map
one representation to another; a convolution's filter is a linear combination
of these, so it is equivariant for any weights.  :func:`regular_factors` gives the
factored form of a basis into a regular field (one row, turned by the group),
which is how the layers expand regular -> regular filters cheaply.
"""

from ._basis import BASIS_KINDS, BasisKind, KernelBasis, default_basis_kind, kernel_basis
from ._harmonic import PROFILES, default_max_frequency, escnn_max_frequency, lowpass_max_frequency, ring_profile
from ._regular import RegularFactors, regular_factors

__all__ = [
    "BASIS_KINDS",
    "PROFILES",
    "BasisKind",
    "KernelBasis",
    "RegularFactors",
    "default_basis_kind",
    "default_max_frequency",
    "escnn_max_frequency",
    "kernel_basis",
    "lowpass_max_frequency",
    "regular_factors",
    "ring_profile",
]
