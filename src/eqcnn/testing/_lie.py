"""The Lie derivative of Gruver et al. (2022): equivariance error under infinitesimal rotations and translations."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_number, check_tensor_arg
from ..fields import FieldType
from ..groups import PointGroup
from ._declare import OutputKind, check_model_input, declare
from ._masks import disk_mask, soft_disk, valid_mask
from ._metrics import has_pixels, prepare_input
from ._modes import eval_mode
from ._receptive_field import ReceptiveField, receptive_field
from ._tolerance import no_tf32

__all__ = ["LieDerivative", "lie_derivative", "warp_velocity"]

Generator = Literal["rotation", "translation_x", "translation_y"]
_CUBIC_SLOPE_CORRECTION = 0.5 / 0.75


@dataclass(frozen=True)
class LieDerivative:
    """``value``: the Lie derivative, shaped like the output; ``norm`` its L2 norm over the compared
    region; ``relative`` that norm over the output's (per radian for rotations, per pixel for translations)."""

    generator: str
    value: torch.Tensor
    norm: float
    relative: float


def warp_velocity(x: torch.Tensor, generator: Generator, scale: float = 1.0) -> torch.Tensor:
    """``d/dt`` at ``t = 0`` of the image ``x`` (``(B, C, H, W)``) moved by ``exp(t * generator)``.

    The moved image is ``x(T_t^-1 p)`` sampled with bicubic ``grid_sample``
    (which is the identity at ``t = 0``); the derivative is taken by autograd
    through the sampling grid, i.e. it is ``-grad x . v`` with the image
    gradient of the bicubic interpolant and the velocity field ``v`` of the
    generator.  At the samples torch's bicubic kernel has slope
    ``0.75 (x[i+1] - x[i-1])``, 1.5 times the central difference, so the
    result is rescaled by 2/3: the image gradient used is exactly the central
    difference ``(x[i+1] - x[i-1]) / 2`` along each axis.  Velocity fields:
    ``(-y, x)`` for a counter-clockwise rotation about the image
    centre (per radian), ``(scale, 0)`` or ``(0, scale)`` for a translation
    right or up by ``scale`` pixels.
    """
    check_tensor_arg("x", x, (4,), "(B, C, H, W)", floating=True)
    check_choice("generator", generator, ("rotation", "translation_x", "translation_y"))
    scale = check_number("scale", scale)
    B, C, H, W = x.shape
    flat = x.detach().reshape(B * C, 1, H, W)
    dtype = flat.dtype if flat.dtype in (torch.float32, torch.float64) else torch.float32
    i = torch.arange(H, dtype=dtype, device=x.device)
    j = torch.arange(W, dtype=dtype, device=x.device)
    ii, jj = torch.meshgrid(i, j, indexing="ij")
    px, py = jj - (W - 1) / 2, (H - 1) / 2 - ii  # plane coordinates, y up
    sx, sy = max((W - 1) / 2, 1e-12), max((H - 1) / 2, 1e-12)
    grid = torch.stack([px / sx, -py / sy], dim=-1)[None].expand(B * C, H, W, 2).clone().requires_grad_(True)
    with torch.enable_grad():
        out = F.grid_sample(flat.to(dtype), grid, mode="bicubic", padding_mode="zeros", align_corners=True)
        (dgrid,) = torch.autograd.grad(out.sum(), grid)
    if generator == "rotation":
        vx, vy = -py, px
    elif generator == "translation_x":
        vx, vy = torch.full_like(px, scale), torch.zeros_like(py)
    else:
        vx, vy = torch.zeros_like(px), torch.full_like(py, scale)
    # the sample point is T_t^-1 p, whose velocity is -v; in grid units (u right, v down)
    du, dv = -vx / sx, vy / sy
    # torch's bicubic kernel (a = -0.75) has slope -a (x[i+1] - x[i-1]) at the samples, 1.5 times
    # the central difference; rescale so the derivative at the samples is the central difference
    vel = (dgrid[..., 0] * du + dgrid[..., 1] * dv) * _CUBIC_SLOPE_CORRECTION
    return vel.reshape(B, C, H, W).to(x.dtype)


def _jvp(model: nn.Module, x: torch.Tensor, v: torch.Tensor) -> tuple[Any, Any]:
    def f(z: torch.Tensor) -> Any:
        return model(z.clone())  # an in-place first layer (ReLU(inplace=True)) must not write into x

    try:
        with warnings.catch_warnings():  # torch's first forward-AD call scripts decompositions with torch.jit
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
            out = torch.func.jvp(f, (x,), (v,))
            return out[0], out[1]
    except (NotImplementedError, RuntimeError):  # an op without forward-mode AD: use double backward
        with torch.enable_grad():
            y, jv = torch.autograd.functional.jvp(f, x, v)
        return y.detach(), jv.detach()


def lie_derivative(
    model: nn.Module,
    x: torch.Tensor,
    generator: Generator = "rotation",
    *,
    group: PointGroup | None = None,
    in_type: FieldType | int | None = None,
    out_type: FieldType | None = None,
    output: OutputKind | None = None,
) -> LieDerivative:
    """The Lie derivative ``d/dt|_0  T_t^-1 model(T_t x)`` of the equivariance residual (Gruver et al., 2022).

    For a continuous rotation (``"rotation"``, about the image centre, per
    radian) or translation (``"translation_x"``/``"translation_y"``, per input
    pixel; a stride-``s`` output moves by ``t / s``), this is the rate at which
    the model's output stops following the transformed input as the transform
    starts from the identity.  It is zero for a model equivariant to the
    continuous transformation and, unlike the error at one finite angle, it
    measures *learned* or *approximate* equivariance without picking an angle.
    It is computed by the chain rule: ``J_model(x) [dT x] - dT model(x)``, with
    the warp's derivative ``dT`` taken through bicubic ``grid_sample`` by
    autograd (:func:`warp_velocity`) and the Jacobian-vector product by
    ``torch.func.jvp``.  What it does not measure: discrete symmetries (flips,
    90-degree turns), and equivariance far from the identity.

    Rotations act on pixels only, so the input must be scalar fields and the
    output invariant or scalar fields; translations work for any field type.
    For rotations ``x`` is windowed by a soft disk and the output compared in
    the inscribed disk; for translations, where the receptive field sees no
    padding.

    Shapes: ``x`` ``(B, C, H, W)``; ``value`` has the output's shape.

    Example:
        >>> import torch
        >>> from eqcnn.testing import lie_derivative, band_limited_noise
        >>> pool = torch.nn.AdaptiveAvgPool2d(1)  # invariant to translations and rotations
        >>> x = band_limited_noise((1, 1, 17, 17))
        >>> lie_derivative(pool, x, output="invariant").relative < 1e-3
        True
    """
    check_model_input(model, x, x_required=True, batched=True)
    check_choice("generator", generator, ("rotation", "translation_x", "translation_y"))
    decl = declare(model, group=group, in_type=in_type, out_type=out_type, output=output, channels=x.shape[-3])
    x = prepare_input(model, x)
    if x.dim() != 4:
        raise ValueError(f"`x` must have shape (B, C, H, W), got {tuple(x.shape)}")
    rf: ReceptiveField | None = None
    if generator == "rotation":
        if not decl.in_type.is_trivial:
            raise ValueError(
                f"continuous rotations move pixels only: `in_type` must be scalar fields, got {decl.in_type!r}"
            )
        x = x * soft_disk(x.shape[-2:], device=x.device).to(x.dtype)
    else:
        rf = receptive_field(model, tuple(x.shape))
    with eval_mode(model), no_tf32():
        v_in = warp_velocity(x, generator)
        y, jv = _jvp(model, x, v_in)
        out = decl.out_type_for(y)
        mask = None
        if out is None or y.dim() == 2:
            lie = jv
        else:
            if generator == "rotation" and not out.is_trivial:
                raise ValueError(
                    f"continuous rotations act on {out!r} through SO(2), which its representation does not "
                    "define; measure translations, or an invariant output (e.g. after group pooling)"
                )
            assert rf is not None or generator == "rotation"
            scale = 1.0 / rf.stride[1 if generator == "translation_x" else 0] if rf is not None else 1.0
            lie = jv - warp_velocity(y, generator, scale)
            if generator == "rotation":  # a 1x1 map (global pooling) has no pixels to move: compared whole
                mask = disk_mask(y.shape[-2:], margin=1.0, device=y.device) if has_pixels(y) else None
            else:
                assert rf is not None
                grown = ReceptiveField(
                    (rf.size[0] + 4, rf.size[1] + 4), rf.stride, (rf.padding[0] + 2, rf.padding[1] + 2), rf.method
                )
                mask = valid_mask(grown, x.shape[-2:], y.shape[-2:]).to(y.device)
    v, ref = lie.detach().to(torch.float64), y.detach().to(torch.float64)
    if mask is not None:
        v, ref = v[..., mask], ref[..., mask]
    norm, ref_norm = float(v.norm()), float(ref.norm())
    return LieDerivative(generator, lie.detach(), norm, norm / ref_norm if ref_norm > 0 else norm)
