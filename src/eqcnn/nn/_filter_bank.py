"""FilterBank: weights -> the full filter of an equivariant convolution (shared by Conv2d and ConvTranspose2d)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ..fields import FieldType
from ..kernels import KernelBasis, kernel_basis
from ._module import EquivariantModule

__all__ = ["ExpandedFilterModule", "FilterBank", "InvariantBias", "group_fields", "load_filter"]


def group_fields(t: FieldType) -> tuple[list[tuple[Any, list[int]]], list[int]]:
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
    """The basis as a ``(dim, d_out * d_in * k * k)`` CPU tensor, shared by every layer that uses it."""
    flat = basis.filters.reshape(basis.dim, int(np.prod(basis.filters.shape[1:])))
    return torch.tensor(flat, dtype=dtype)


class FilterBank:
    """The linear map from a weight vector to the filter of an equivariant conv from ``src`` to ``dst`` fields.

    The filter ``(dst.size, src.size, kh, kw)`` is assembled block by block:
    fields are grouped by representation, and each (dst rep, src rep) block is
    one matmul of its weights with the cached :class:`~eqcnn.kernels.KernelBasis`.
    For the trivial group with the pixel basis the map is the identity and the
    weight *is* the filter (``torch.nn.Conv2d``'s layout).

    The bases are plain tensor attributes, not buffers: they are constants, so
    ``state_dict`` does not hold them and DDP does not broadcast them; the
    owning module moves them in its ``_apply`` (``.to()``, ``.cuda()``, ``.half()``).
    """

    def __init__(
        self,
        src: FieldType,
        dst: FieldType,
        kernel_size: tuple[int, int],
        kind: str,
        dtype: torch.dtype | None = None,
        device: Any = None,
        groups: int = 1,
    ) -> None:
        kh, kw = kernel_size
        # groups > 1 only for the identity map (the trivial group): torch's grouped layout
        self.shape = (dst.size, src.size // groups, kh, kw)
        self.identity = src.group.order == 1 and kind == "pixel"
        self.blocks: list[dict[str, Any]] = []
        self.bases: list[torch.Tensor] = []
        self.mixes: list[torch.Tensor] = []  # KernelBasis.init_mix per block, used by init_
        self.perms: tuple[torch.Tensor, torch.Tensor] | None = None
        if self.identity:
            self.size = dst.size * (src.size // groups) * kh * kw
            self.single: tuple | None = None
            return
        dst_groups, dst_inv = group_fields(dst)
        src_groups, src_inv = group_fields(src)
        dtype = dtype or torch.get_default_dtype()
        offset = 0
        for oi, (ro, ofields) in enumerate(dst_groups):
            for ri, ifields in src_groups:
                b = kernel_basis(ri, ro, kh, kind)  # type: ignore[arg-type]
                self.bases.append(_basis_tensor(b, dtype).to(device))
                self.mixes.append(torch.tensor(b.init_mix, dtype=torch.float64))
                n = len(ofields) * len(ifields) * b.dim
                self.blocks.append(
                    dict(out_group=oi, n_out=len(ofields), n_in=len(ifields), d_out=ro.size, d_in=ri.size,
                         dim=b.dim, offset=offset)
                )  # fmt: skip
                offset += n
        self.size = offset
        self.n_out_groups = len(dst_groups)
        if dst_inv != sorted(dst_inv) or src_inv != sorted(src_inv):
            self.perms = (torch.tensor(dst_inv, device=device), torch.tensor(src_inv, device=device))
        # one block covering the whole weight (e.g. regular -> regular) is the common case: no slicing or cat
        only = self.blocks[0] if len(self.blocks) == 1 else None
        self.single = (
            (only["n_out"], only["n_in"], only["d_out"], only["d_in"], only["dim"])
            if only is not None and only["dim"] > 0 and self.perms is None
            else None
        )

    def weight_shape(self) -> tuple[int, ...]:
        """The parameter's shape: the filter's for the identity map, else a flat vector."""
        return self.shape if self.identity else (self.size,)

    def apply_(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Move or cast the constant tensors like ``nn.Module._apply`` does its buffers.

        (``mixes`` stay on the CPU in float64: they are only read when initialising.)
        """
        self.bases = [fn(b) for b in self.bases]
        if self.perms is not None:
            self.perms = (fn(self.perms[0]), fn(self.perms[1]))

    def expand(self, w: torch.Tensor) -> torch.Tensor:
        """The filter ``(dst.size, src.size, kh, kw)`` for the weight ``w``."""
        kh, kw = self.shape[2:]
        if self.identity:
            return w.view(self.shape)
        if self.single is not None:
            no, ni, do, di, dim = self.single
            filt = (w.view(no * ni, dim) @ self.bases[0]).view(no, ni, do, di, kh, kw)
            return filt.transpose(1, 2).reshape(no * do, ni * di, kh, kw)
        rows: list[list[torch.Tensor]] = [[] for _ in range(self.n_out_groups)]
        for blk, basis in zip(self.blocks, self.bases):
            no, ni, do, di, dim = blk["n_out"], blk["n_in"], blk["d_out"], blk["d_in"], blk["dim"]
            if dim == 0:
                part = w.new_zeros(no * do, ni * di, kh, kw)
            else:
                coef = w[blk["offset"] : blk["offset"] + no * ni * dim].view(no * ni, dim)
                part = (coef @ basis).view(no, ni, do, di, kh, kw).transpose(1, 2).reshape(no * do, ni * di, kh, kw)
            rows[blk["out_group"]].append(part)
        filt = torch.cat([torch.cat(r, dim=1) for r in rows], dim=0)
        if self.perms is not None:
            filt = filt.index_select(0, self.perms[0]).index_select(1, self.perms[1])
        return filt

    def init_(self, w: torch.Tensor) -> None:
        """He initialisation of ``w`` in place, aware of the basis (see :meth:`Conv2d.reset_parameters`).

        The random filter is drawn along the basis' ``init_mix`` directions
        (for the harmonic basis: its ring/frequency functions, each normalised)
        with iid Gaussian weights, scaled by the He rule.
        """
        with torch.no_grad():
            if self.identity:
                fan_in = self.shape[1] * self.shape[2] * self.shape[3]
                w.normal_(0.0, math.sqrt(2.0 / max(fan_in, 1)))
                return
            # a random filter is a sum of the basis' init_mix directions with iid weights
            white: dict[int, float] = {}
            dc: dict[int, float] = {}
            for blk, basis, mix in zip(self.blocks, self.bases, self.mixes):
                if blk["dim"] == 0:
                    continue
                sums = basis.double().view(blk["dim"], blk["d_out"], -1).sum(-1)  # response to a constant
                g = blk["out_group"]
                white[g] = white.get(g, 0.0) + blk["n_in"] * mix.pow(2).sum().item() / blk["d_out"]
                dc[g] = dc.get(g, 0.0) + blk["n_in"] * (mix.T @ sums).pow(2).sum().item() / blk["d_out"]
            for blk, mix in zip(self.blocks, self.mixes):
                n = blk["n_out"] * blk["n_in"] * blk["dim"]
                if n == 0:
                    continue
                g = blk["out_group"]
                denom = (0.5 - 0.5 / math.pi) * white[g] + dc[g] / (2 * math.pi)
                z = torch.empty(blk["n_out"] * blk["n_in"], mix.shape[1], dtype=torch.float64).normal_(
                    0.0, math.sqrt(1.0 / denom)
                )
                w[blk["offset"] : blk["offset"] + n] = (z @ mix.T).reshape(-1).to(w)


class InvariantBias:
    """The map from a bias vector to a full bias: one value per invariant direction of each output field.

    For trivial fields the map is the identity (the bias is torch's); for a
    regular field the one value is shared by its channels; irreps fields other
    than the trivial one get none.
    """

    def __init__(self, t: FieldType, dtype: torch.dtype | None = None, device: Any = None) -> None:
        inv = t.invariant_basis
        self.size = inv.shape[1] if inv.size else 0
        self.identity = inv.shape[0] == self.size and np.array_equal(inv, np.eye(self.size))
        self.basis = torch.tensor(inv.reshape(t.size, self.size), dtype=dtype or torch.get_default_dtype()).to(device)

    def apply_(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.basis = fn(self.basis)

    def expand(self, b: torch.Tensor) -> torch.Tensor:
        return b if self.identity else self.basis @ b


def load_filter(plain: torch.nn.Module, filt: torch.Tensor, bias: torch.Tensor | None, training: bool) -> Any:
    """Copy an expanded filter and bias into a plain torch conv module (for ``export()``)."""
    with torch.no_grad():
        plain.weight.copy_(filt)  # type: ignore[operator]
        if bias is not None and plain.bias is not None:
            plain.bias.copy_(bias)  # type: ignore[operator]
    return plain.train(training)


class ExpandedFilterModule(EquivariantModule):
    """Base of the layers whose filter is expanded from weights by a :class:`FilterBank`.

    Subclasses set ``weight``, ``bias``, ``_bank`` (a :class:`FilterBank`) and
    ``_bias_map`` (an :class:`InvariantBias`) and ``_cache = None`` in ``__init__``.
    This class expands the filter, caches it in eval mode, and moves the bases
    with the module.
    """

    weight: torch.nn.Parameter
    bias: torch.nn.Parameter | None
    _bank: FilterBank
    _bias_map: InvariantBias
    _cache: tuple[Any, torch.Tensor, torch.Tensor | None] | None

    def _expand(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        b = self.bias
        return self._bank.expand(self.weight), None if b is None else self._bias_map.expand(b)

    def expand_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The full filter (``torch``'s layout for the layer) and bias ``(out_type.size,)``.

        In eval mode the result is cached until the weights change (in-place
        updates, ``load_state_dict``, ``.to()``) or ``train()`` is called; while
        gradients to the weights are wanted, or under ``torch.compile``, it is
        recomputed.  Writes through ``weight.data`` bypass PyTorch's version
        counter: call :meth:`clear_cache` after them.
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
            torch.is_inference_mode_enabled(),  # an inference tensor cannot be saved for backward outside
        )
        cache = self._cache
        if cache is None or cache[0] != key:
            with torch.no_grad():
                filt, bias = self._expand()
            cache = self._cache = (key, filt, bias)
        return cache[1], cache[2]

    def clear_cache(self) -> None:
        """Drop the eval-mode filter cache (needed only after writes through ``weight.data``)."""
        self._cache = None

    def train(self, mode: bool = True) -> ExpandedFilterModule:
        if mode != self.training:  # model.eval() before every batch keeps the cache
            self._cache = None
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):  # .to(), .cuda(), .half(): move the bases, drop the cache
        self._cache = None
        self._bank.apply_(fn)
        self._bias_map.apply_(fn)
        return super()._apply(fn, *args, **kwargs)
