"""Anti-aliased nonlinearities: a spatially pointwise layer applied on a finer grid, then low-passed back.

A pointwise nonlinearity on sampled feature maps creates frequencies above the
grid's Nyquist limit, which fold back (alias) into the samples. Aliasing is not
rotation-equivariant: a feature map turned by 45 degrees aliases differently
from the turned aliases of the upright one. :class:`AntiAliased` upsamples by
``factor``, applies the layer there, blurs with an isotropic Gaussian and takes
every ``factor``-th sample, so most of the new high frequencies are removed
before they fold (the approach of Karras et al., 2021, "Alias-Free Generative
Adversarial Networks", with a Gaussian low-pass). Every step commutes with the
grid's symmetries and acts on each channel alike, so the layer stays exactly
equivariant wherever the wrapped layer is.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._checks import check_int, check_number
from ..fields import FieldType
from ._fieldutil import check_dims
from ._fourier import FourierPointwise, NormPool
from ._module import EquivariantModule
from ._nonlinear import GatedNonlinearity, NormNonlinearity, PointwiseNonlinearity, _NamedPointwise
from ._plain import AntiAliasedPlain, blur_image, gaussian_taps, upsample_image

__all__ = ["AntiAliased"]

#: The layers that act on each pixel alone (the only ones a finer grid leaves unchanged in meaning).
_POINTWISE = (_NamedPointwise, PointwiseNonlinearity, NormNonlinearity, GatedNonlinearity, FourierPointwise, NormPool)

#: The default blur, in input pixels (measured: benchmarks/rotation45.py, see docs/performance.md "45 degrees").
DEFAULT_SIGMA = 1.0


class AntiAliased(EquivariantModule):
    """Apply a pointwise ``layer`` at ``factor`` times the resolution, then low-pass and subsample back.

    ``x`` of shape ``(B, C, H, W)`` is upsampled bicubically to
    ``(factor (H - 1) + 1, factor (W - 1) + 1)`` (the input's pixels are
    kept, the new ones lie between them), ``layer`` is applied, and the result
    is blurred with a Gaussian of ``sigma`` input pixels and sampled back on
    the input's grid (replicate padding at the border). This removes most of
    the frequencies the nonlinearity creates above the grid's Nyquist limit
    before they alias, which is what breaks equivariance at angles that are
    not symmetries of the grid (45 degrees in ``Cyclic(8)``). It also smooths
    the feature map: ``sigma`` trades detail for equivariance.

    Exactly equivariant wherever ``layer`` is (quarter turns and flips on any
    square input): the resampling is symmetric and acts on every channel alike.

    Costs: ``layer`` runs on ``factor**2`` times the pixels, and each resampling is a
    product with a dense ``(n_out, n_in)`` matrix per axis, rebuilt every call: cheap for
    feature maps up to about 128 pixels a side, cubic in the side beyond (measured in
    docs/howto/off-grid-angles.md). ``factor=1`` is the blur alone: most of the gain at a
    fraction of the cost on the benchmark's net.

    Args:
        layer: a spatially pointwise eqcnn layer: a pointwise nonlinearity
            (``ReLU``, ``ELU``, ..., ``PointwiseNonlinearity``),
            ``NormNonlinearity``, ``GatedNonlinearity``, ``FourierPointwise``
            / ``FourierELU`` or ``NormPool``; on images.
        factor: the upsampling factor (an integer >= 1; 1 is the blur alone, on the input's grid).
        sigma: the low-pass Gaussian's standard deviation, in input pixels (> 0).

    Shapes: ``(B, C_in, H, W) -> (B, C_out, H, W)``, with ``layer``'s channels.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> t = eqcnn.Cyclic(8).regular(2)
        >>> act = enn.AntiAliased(enn.ReLU(t))
        >>> act
        AntiAliased(ReLU(Cyclic(8).regular(2)), factor=2, sigma=1.0)
        >>> x = torch.randn(1, 16, 9, 9)
        >>> g = eqcnn.Cyclic(8).rotation_by(90)
        >>> bool(torch.allclose(act(t.transform(x, g)), t.transform(act(x), g), atol=1e-5))
        True
    """

    taps: torch.Tensor

    def __init__(self, layer: EquivariantModule, factor: int = 2, sigma: float = DEFAULT_SIGMA) -> None:
        super().__init__()
        if not isinstance(layer, _POINTWISE):
            names = "ReLU, ELU, ... (pointwise), NormNonlinearity, GatedNonlinearity, FourierPointwise, NormPool"
            got = type(layer).__name__
            raise TypeError(f"`layer` of AntiAliased must be one of these eqcnn layers: {names}; got {got}")
        check_dims("AntiAliased", layer.in_type, 2, "layer.in_type")
        self.factor = check_int("factor", factor, minimum=1)
        self.sigma = float(check_number("sigma", sigma))
        if not self.sigma > 0:
            raise ValueError(f"`sigma` must be > 0 (the low-pass blur, in input pixels), got {sigma!r}")
        self.layer = layer
        self.spatial_dims = 2
        self.in_type: FieldType = layer.in_type
        self.out_type: FieldType = layer.out_type
        self.register_buffer("taps", gaussian_taps(self.sigma * self.factor), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if x.dim() == 3:
            return self.forward(x[None])[0]
        return blur_image(self.layer(upsample_image(x, self.factor)), self.factor, self.taps)

    def export(self) -> nn.Module:
        return AntiAliasedPlain(self.layer.export(), self.factor, self.taps.clone())

    def _extra_state_info(self) -> dict[str, Any]:
        return {**super()._extra_state_info(), "factor": self.factor, "sigma": self.sigma}

    def extra_repr(self) -> str:
        return f"factor={self.factor}, sigma={self.sigma!r}"

    def __repr__(self) -> str:
        return f"AntiAliased({self.layer!r}, {self.extra_repr()})"
