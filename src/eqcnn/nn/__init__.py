"""Equivariant layers over plain tensors (layer 4 of eqcnn)."""

from ._antialias import AntiAliased
from ._container import ResidualBlock, Sequential
from ._conv import Conv2d, Conv3d
from ._conv_transpose import ConvTranspose2d, ConvTranspose3d
from ._exactness import ExactnessReport, SamplingStep, exact_input_sizes
from ._export import export
from ._fourier import FourierELU, FourierPointwise, NormPool
from ._misc import FieldDropout, Identity, Linear, Upsample
from ._module import EquivariantModule
from ._nonlinear import (
    ELU,
    GELU,
    GatedNonlinearity,
    LeakyReLU,
    NormNonlinearity,
    PointwiseNonlinearity,
    ReLU,
    Sigmoid,
    SiLU,
    Tanh,
)
from ._norm import BatchNorm2d, BatchNorm3d, GroupNorm
from ._pool import (
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool2d,
    AvgPool3d,
    BlurPool2d,
    GaussianAvgPool2d,
    GroupPool,
    MaxPool2d,
    MaxPool3d,
)
from ._restrict import Restrict

__all__ = [
    "ELU",
    "GELU",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AntiAliased",
    "AvgPool2d",
    "AvgPool3d",
    "BatchNorm2d",
    "BatchNorm3d",
    "BlurPool2d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "EquivariantModule",
    "ExactnessReport",
    "FieldDropout",
    "FourierELU",
    "FourierPointwise",
    "GatedNonlinearity",
    "GaussianAvgPool2d",
    "GroupNorm",
    "GroupPool",
    "Identity",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "MaxPool3d",
    "NormNonlinearity",
    "NormPool",
    "PointwiseNonlinearity",
    "ReLU",
    "ResidualBlock",
    "Restrict",
    "SamplingStep",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "Upsample",
    "exact_input_sizes",
    "export",
]
