"""Conv2d: a convolution whose filter lies in the space of equivariant filters."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, pair
from ..fields import FieldType
from ..kernels import BasisKind, KernelBasis, kernel_basis
from ._module import EquivariantModule

__all__ = ["Conv2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _group_fields(t: FieldType) -> tuple[list[tuple[Any, list[int]]], list[int]]:
    """Fields grouped by representation (in order of first appearance), and the
    channel permutation that takes the grouped layout back to ``t``'s layout."""
    groups: list[tuple[Any, list[int]]] = []
    for f, rep in enumerate(t.representations):
        for r, idx in groups:
            if r == rep:
                idx.append(f)
                break
        else:
            groups.append((rep, [f]))
    grouped_channels: list[int] = []
    for _, idx in groups:
        for f in idx:
            s = t.field_starts[f]
            grouped_channels.extend(range(s, s + t.representations[f].size))
    inverse = [0] * t.size
    for pos, ch in enumerate(grouped_channels):
        inverse[ch] = pos
    return groups, inverse


@lru_cache(maxsize=256)
def _basis_tensor(basis: KernelBasis, dtype: torch.dtype) -> torch.Tensor:
    """The basis as a ``(dim, d_out * d_in * k * k)`` CPU tensor, shared by every layer that uses it.

    Layers register it as a non-persistent buffer; ``.to(device)`` gives each
    layer its own copy on the device, and nothing writes to it in place.
    """
    flat = basis.filters.reshape(basis.dim, int(np.prod(basis.filters.shape[1:])))
    return torch.tensor(flat, dtype=dtype)


class Conv2d(EquivariantModule):
    r"""2-D convolution from ``in_type`` fields to ``out_type`` fields, equivariant by construction.

    The filter is ``weight @ basis``: a linear combination of the cached basis
    of filters solving ``K(g p) = rho_out(g) K(p) rho_in(g)^-1``
    (:func:`eqcnn.kernels.kernel_basis`), so for any weights

        ``conv(in_type.transform(x, g)) == out_type.transform(conv(x), g)``

    exactly (float32 relative error below 1e-5) for the rotations by multiples
    of 90 degrees and the reflections in the group, with circular padding or
    away from the borders otherwise, and for stride ``s`` when ``(H - k') % s
    == 0`` where ``k'`` is the dilated kernel size plus padding (see
    docs/concepts.md); approximately for other angles.  With
    ``eqcnn.Trivial()`` it is exactly ``torch.nn.Conv2d``: same parameter count,
    same output for the same filter.

    Arguments follow ``torch.nn.Conv2d`` in name and order; eqcnn's options come
    after them, keyword only.

    Args:
        in_type: field type of the input (its ``size`` is the channel count).
        out_type: field type of the output; same group as ``in_type``.
        kernel_size: odd int for groups larger than Trivial.
        stride, padding, dilation, groups, bias, padding_mode, device, dtype:
            as ``torch.nn.Conv2d``; ``padding`` may be ``"same"`` or ``"valid"``;
            ``groups`` must be 1.
        basis: ``"auto"`` (pixel basis for Trivial, harmonic otherwise),
            ``"harmonic"`` or ``"pixel"`` (groups that map the grid onto itself).

    Shapes:
        ``(B, in_type.size, H, W) -> (B, out_type.size, H', W')`` with torch's
        formula for ``H'`` and ``W'``; unbatched ``(C, H, W)`` works too.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> conv = enn.Conv2d(G.trivial(3), G.regular(8), kernel_size=5, padding=2)
        >>> conv(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 32, 32, 32])
    """

    def __init__(
        self,
        in_type: FieldType,
        out_type: FieldType,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        basis: BasisKind = "auto",
    ) -> None:
        super().__init__()
        for name, t in (("in_type", in_type), ("out_type", out_type)):
            if not isinstance(t, FieldType):
                raise TypeError(f"`{name}` must be an eqcnn FieldType (e.g. G.regular(8)), got {type(t).__name__}")
        if in_type.group != out_type.group:
            raise ValueError(
                f"`in_type` and `out_type` must have the same group, got {in_type.group!r} and {out_type.group!r}"
            )
        group = in_type.group
        check_int("groups", groups, minimum=1)
        if groups != 1:
            raise ValueError(f"`groups` (={groups}) must be 1: grouped equivariant convolutions are not supported")
        check_choice("padding_mode", padding_mode, _PADDING_MODES)
        check_choice("basis", basis, ("auto", "harmonic", "pixel"))
        kernel = pair("kernel_size", kernel_size, minimum=1)
        self.stride = pair("stride", stride, minimum=1)
        self.dilation = pair("dilation", dilation, minimum=1)
        if group.order > 1 and (kernel[0] != kernel[1] or kernel[0] % 2 == 0):
            odd = kernel[0] + 1 if kernel[0] % 2 == 0 else kernel[0]
            raise ValueError(
                f"`kernel_size` must be odd and square for {group!r} (an even filter's centre moves "
                f"under a rotation or reflection), got {kernel_size!r}; use {odd}"
            )
        self.kernel_size = kernel
        self.padding = self._parse_padding(padding)
        self.padding_mode = padding_mode
        self.in_type = in_type
        self.out_type = out_type
        self.basis_kind = (
            "pixel" if (basis == "auto" and group.order == 1) else ("harmonic" if basis == "auto" else basis)
        )
        self._identity = group.order == 1 and self.basis_kind == "pixel"
        if not self._identity and kernel[0] != kernel[1]:
            raise ValueError(f"`kernel_size` must be square with basis={self.basis_kind!r}, got {kernel_size!r}")
        factory = {"device": device, "dtype": dtype}

        if self._identity:
            n_weights = out_type.size * in_type.size * kernel[0] * kernel[1]
            self._blocks: list[dict[str, Any]] = []
            self._needs_perm = False
        else:
            n_weights = self._build_blocks(factory)
        if n_weights == 0:
            raise ValueError(
                f"no equivariant {kernel[0]}x{kernel[1]} filter maps {in_type!r} to {out_type!r}"
                + (" (a 1x1 filter must commute with the group action; use kernel_size >= 3)" if kernel[0] == 1 else "")
            )
        self.weight = nn.Parameter(torch.empty(n_weights, **factory))

        inv = out_type.invariant_basis
        if bias and inv.shape[1] > 0:
            self.bias: nn.Parameter | None = nn.Parameter(torch.zeros(inv.shape[1], **factory))
            self._bias_identity = inv.shape[0] == inv.shape[1] and np.array_equal(inv, np.eye(inv.shape[0]))
            self.register_buffer(
                "_bias_basis",
                torch.as_tensor(inv, dtype=self.weight.dtype, device=self.weight.device),
                persistent=False,
            )
        else:
            self.register_parameter("bias", None)
            self._bias_identity = False
        self._want_bias = bool(bias)
        self._cache: tuple[Any, torch.Tensor, torch.Tensor | None] | None = None
        self.reset_parameters()

    # -- construction helpers ----------------------------------------------------------
    def _parse_padding(self, padding: Any) -> tuple[int, int]:
        if isinstance(padding, str):
            check_choice("padding", padding, ("same", "valid"))
            if padding == "valid":
                return (0, 0)
            if self.stride != (1, 1):
                raise ValueError(f"`padding`='same' needs stride 1 (as in torch), got stride={self.stride}")
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            if any(t % 2 for t in total):
                # torch pads asymmetrically here; we only allow the symmetric case
                raise ValueError(
                    f"`padding`='same' needs an odd dilated kernel size, got kernel_size={self.kernel_size}, "
                    f"dilation={self.dilation}"
                )
            return (total[0] // 2, total[1] // 2)
        return pair("padding", padding, minimum=0)

    def _build_blocks(self, factory: dict[str, Any]) -> int:
        out_groups, out_inv = _group_fields(self.out_type)
        in_groups, in_inv = _group_fields(self.in_type)
        k = self.kernel_size[0]
        self._blocks = []
        offset = 0
        for oi, (ro, ofields) in enumerate(out_groups):
            for ii, (ri, ifields) in enumerate(in_groups):
                b = kernel_basis(ri, ro, k, self.basis_kind)  # type: ignore[arg-type]
                n = len(ofields) * len(ifields) * b.dim
                name = f"_basis_{oi}_{ii}"
                basis = _basis_tensor(b, factory["dtype"] or torch.get_default_dtype())
                self.register_buffer(name, basis.to(factory["device"]), persistent=False)
                self._blocks.append(
                    dict(
                        out_group=oi,
                        in_group=ii,
                        n_out=len(ofields),
                        n_in=len(ifields),
                        d_out=ro.size,
                        d_in=ri.size,
                        dim=b.dim,
                        offset=offset,
                        buffer=name,
                    )
                )
                offset += n
        self._n_out_groups, self._n_in_groups = len(out_groups), len(in_groups)
        self._needs_perm = out_inv != sorted(out_inv) or in_inv != sorted(in_inv)
        if self._needs_perm:
            self.register_buffer("_out_perm", torch.tensor(out_inv, device=factory["device"]), persistent=False)
            self.register_buffer("_in_perm", torch.tensor(in_inv, device=factory["device"]), persistent=False)
        return offset

    def reset_parameters(self) -> None:
        """He initialisation, aware of the basis; the bias starts at zero.

        For white inputs, He's rule gives each filter entry of an output row the
        variance ``2 / fan_in``.  The inputs of a conv are ReLU outputs, whose
        mean is not zero, and a band-limited filter sums a constant input
        coherently, so the rule here counts the basis' response to the mean too:
        with ``e_white`` and ``e_dc`` the energies of the basis (and of its sums
        over taps) reaching one output row, the weights get variance
        ``1 / ((1/2 - 1/(2 pi)) e_white + e_dc / (2 pi))``, which is ``2 / fan_in``
        for the pixel basis of the ordinary conv.  The second moment of the
        pre-activations then stays roughly constant through depth.
        """
        with torch.no_grad():
            if self._identity:
                fan_in = self.in_type.size * self.kernel_size[0] * self.kernel_size[1]
                self.weight.normal_(0.0, math.sqrt(2.0 / max(fan_in, 1)))
            else:
                white: dict[int, float] = {}
                dc: dict[int, float] = {}
                for blk in self._blocks:
                    basis = getattr(self, blk["buffer"]).double()
                    if blk["dim"] == 0:
                        continue
                    sums = basis.view(blk["dim"], blk["d_out"], -1).sum(-1)  # response of each row to a constant
                    g = blk["out_group"]
                    white[g] = white.get(g, 0.0) + blk["n_in"] * blk["dim"] / blk["d_out"]
                    dc[g] = dc.get(g, 0.0) + blk["n_in"] * sums.pow(2).sum().item() / blk["d_out"]
                for blk in self._blocks:
                    g = blk["out_group"]
                    n = blk["n_out"] * blk["n_in"] * blk["dim"]
                    if n == 0:
                        continue
                    denom = (0.5 - 0.5 / math.pi) * white[g] + dc[g] / (2 * math.pi)
                    self.weight[blk["offset"] : blk["offset"] + n].normal_(0.0, math.sqrt(1.0 / denom))
            if self.bias is not None:
                self.bias.zero_()
        self._cache = None

    # -- the filter ------------------------------------------------------------------------------
    def _expand(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        w = self.weight
        kh, kw = self.kernel_size
        buffers: dict[str, torch.Tensor] = self._buffers  # type: ignore[assignment]  # read directly: no lookup cost
        plan = self.__dict__.get("_single_block")
        if plan is None:
            # One block covering the whole weight vector (e.g. regular -> regular, trivial -> regular)
            # is the common case: skip the slicing, the per-block loop and the concatenation.
            single = (
                not self._identity
                and not self._needs_perm
                and len(self._blocks) == 1
                and self._blocks[0]["dim"] > 0
                and self._blocks[0]["offset"] == 0
            )
            b = self._blocks[0] if single else {}
            plan = (b["n_out"], b["n_in"], b["d_out"], b["d_in"], b["dim"], b["buffer"]) if single else ()
            self.__dict__["_single_block"] = plan
        if plan:
            no, ni, do, di, dim, name = plan
            # one GEMM (no*ni, dim) @ (dim, do*di*kh*kw); the transpose to (out, in, kh, kw) copies
            # the filter only, and is free when no == 1 or ni == 1
            filt = (w.view(no * ni, dim) @ buffers[name]).view(no, ni, do, di, kh, kw)
            filt = filt.transpose(1, 2).reshape(no * do, ni * di, kh, kw)
        elif self._identity:
            filt = w.view(self.out_type.size, self.in_type.size, kh, kw)
        else:
            rows: list[list[torch.Tensor]] = [[] for _ in range(self._n_out_groups)]
            for blk in self._blocks:
                no, ni, do, di, dim = blk["n_out"], blk["n_in"], blk["d_out"], blk["d_in"], blk["dim"]
                if dim == 0:
                    part = w.new_zeros(no * do, ni * di, kh, kw)
                else:
                    coef = w[blk["offset"] : blk["offset"] + no * ni * dim].view(no * ni, dim)
                    part = coef @ buffers[blk["buffer"]]
                    part = part.view(no, ni, do, di, kh, kw).transpose(1, 2).reshape(no * do, ni * di, kh, kw)
                rows[blk["out_group"]].append(part)
            if len(rows) == 1 and len(rows[0]) == 1:
                filt = rows[0][0]
            else:
                filt = torch.cat([torch.cat(r, dim=1) for r in rows], dim=0)
            if self._needs_perm:
                filt = filt.index_select(0, buffers["_out_perm"]).index_select(1, buffers["_in_perm"])
        bias: torch.Tensor | None = self.bias
        if bias is not None and not self._bias_identity:
            bias = buffers["_bias_basis"] @ bias
        return filt, bias

    def expand_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The full filter ``(out_type.size, in_type.size, kh, kw)`` and bias ``(out_type.size,)``.

        In eval mode the result is cached until the weights change or ``train()``
        is called (while gradients to the weights are wanted, or under
        ``torch.compile``, it is recomputed).
        """
        w, b = self.weight, self.bias  # nn.Module attribute lookups are slow: once each
        if self.training or (w.requires_grad and torch.is_grad_enabled()) or torch.compiler.is_compiling():
            # (a compiled graph cannot check the cache key; it expands every call, which it fuses)
            return self._expand()
        key = (
            w._version,
            w.data_ptr(),
            None if b is None else (b._version, b.data_ptr()),
            w.device,
            w.dtype,
        )
        cache = self._cache
        if cache is None or cache[0] != key:
            with torch.no_grad():
                filt, bias = self._expand()
            cache = self._cache = (key, filt, bias)
        return cache[1], cache[2]

    def train(self, mode: bool = True) -> Conv2d:
        self._cache = None
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):  # .to(), .cuda(), .half() drop the cache
        self._cache = None
        return super()._apply(fn, *args, **kwargs)

    # -- forward ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        filt, bias = self.expand_parameters()
        if filt.dtype != x.dtype and not torch.is_autocast_enabled():
            filt = filt.to(x.dtype)
            bias = None if bias is None else bias.to(x.dtype)
        if self.padding_mode != "zeros":
            ph, pw = self.padding
            x = F.pad(x, (pw, pw, ph, ph), mode=self.padding_mode)
            return F.conv2d(x, filt, bias, self.stride, 0, self.dilation)
        return F.conv2d(x, filt, bias, self.stride, self.padding, self.dilation)

    # -- export and printing ------------------------------------------------------------------
    def export(self) -> nn.Conv2d:
        """A ``torch.nn.Conv2d`` holding the expanded filter (same ``padding_mode``)."""
        filt, bias = self._expand()
        conv = nn.Conv2d(
            self.in_type.size,
            self.out_type.size,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            bias=self.bias is not None,
            padding_mode=self.padding_mode,  # type: ignore[arg-type]
            device=filt.device,
            dtype=filt.dtype,
        )
        with torch.no_grad():
            conv.weight.copy_(filt)
            if bias is not None and conv.bias is not None:
                conv.bias.copy_(bias)
        return conv.train(self.training)

    def _extra_state_info(self) -> dict[str, Any]:
        info = super()._extra_state_info()
        info.update(kernel_size=list(self.kernel_size), basis=self.basis_kind)
        return info

    def extra_repr(self) -> str:
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        s = f"{self.in_type!r}, {self.out_type!r}, kernel_size={k}"
        if self.stride != (1, 1):
            s += f", stride={self.stride[0] if self.stride[0] == self.stride[1] else self.stride}"
        if self.padding != (0, 0):
            p = self.padding
            s += f", padding={p[0] if p[0] == p[1] else p}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation[0] if self.dilation[0] == self.dilation[1] else self.dilation}"
        if not self._want_bias:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        if self.basis_kind != ("pixel" if self.in_type.group.order == 1 else "harmonic"):
            s += f", basis={self.basis_kind!r}"
        return s
