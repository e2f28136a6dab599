"""FilterBank: weights -> the full filter of an equivariant convolution (shared by Conv2d and ConvTranspose2d)."""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch

from ..fields import FieldType
from ..kernels import KernelBasis, RegularFactors, kernel_basis, regular_factors
from ..kernels._voxel import induced_index
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


def _constant(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """``a`` as a tensor of ``dtype``, with values that would be subnormal there set to zero.

    Subnormal operands slow CPU GEMMs several times over (measured: 55 us
    instead of 9 us for one C8 expansion), and at that size they carry nothing.
    """
    # made in numpy, then converted once: torch.tensor's first call with a dtype, and a masked
    # assignment, cost a fresh interpreter ~0.5 ms of the first layer's build.  Rounding is monotonic,
    # so a value not below ``tiny`` here is not subnormal in ``dtype``; the result is a fresh array
    # (the bases' arrays are read-only), and the tensor is on the CPU: cached and shared, never on an
    # ambient default device.
    if dtype.is_floating_point:
        fresh = np.where(np.abs(a) < torch.finfo(dtype).tiny, 0.0, a)
    else:
        fresh = np.array(a)
    with torch.inference_mode(False):  # shared by every layer: never an inference tensor (see _on_device)
        return torch.from_numpy(fresh).to(dtype)


def _tracing() -> bool:
    """Whether tensors made now are not plain tensors: a ``FakeTensorMode`` (or another mode that makes
    tensor subclasses) is active, e.g. a model built under it to trace or to estimate its memory."""
    return type(torch.empty(0, device="cpu")) is not torch.Tensor


def _shared_constant(fn: Callable[..., Any]) -> Any:
    """``fn`` with its constants cached (``functools.lru_cache``, 256 entries) and shared between layers,
    except under a tracing mode: a layer built there gets fresh constants of the mode's kind, and the real
    layers never see them (a cached fake tensor would break every later layer of that shape)."""
    cached = functools.lru_cache(maxsize=256)(fn)

    @functools.wraps(fn)
    def shared(*args: Any) -> Any:
        return fn(*args) if _tracing() else cached(*args)

    shared.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    shared.cache_info = cached.cache_info  # type: ignore[attr-defined]
    return shared


@_shared_constant
def _basis_tensor(basis: KernelBasis, dtype: torch.dtype) -> torch.Tensor:
    """The basis as a ``(dim, d_out * d_in * k * k)`` CPU tensor, shared by every layer that uses it."""
    flat = basis.filters.reshape(basis.dim, int(np.prod(basis.filters.shape[1:])))
    return _constant(flat, dtype)


@_shared_constant
def _factor_tensors(factors: RegularFactors, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The generator ``(dim, d_in * S)``, the stacked actions ``(S, N * S)`` and the spatial functions ``(S, kk)``."""
    dim, d_in, n_sp = factors.generator.shape
    n = factors.actions.shape[0]
    # actions_t[z, c * S + s] = actions[c][s, z]: one GEMM turns a row by every element at once
    actions_t = factors.actions.transpose(2, 0, 1).reshape(n_sp, n * n_sp)
    return (
        _constant(factors.generator.reshape(dim, d_in * n_sp), dtype),
        _constant(actions_t, dtype),
        _constant(factors.spatial.reshape(n_sp, -1), dtype),
    )


@_shared_constant
def _gather_index(factors: RegularFactors, n_in: int) -> torch.Tensor:
    """Where each entry of the turned rows, laid out ``(c, in field, d, s)``, is read from the GEMM's output.

    The second GEMM of :meth:`_Block.expand` gives, per output field, the
    coefficients laid out ``(in field, d', c, s)``: row ``e``'s entry at input
    channel ``d'`` turned by the element of channel ``c``.  Row ``c`` at channel
    ``d`` is the one with ``d' = sources[c, d]``.  (A CPU int64 tensor shared
    by the layers of the same shape; an int32 index measured 4-5x slower in
    ``index_select``'s backward.)
    """
    n, d_in = factors.sources.shape
    n_sp = factors.spatial.shape[0]
    c = np.arange(n)[:, None, None, None]
    i = np.arange(n_in)[None, :, None, None]
    d_src = factors.sources[:, None, :, None]
    s = np.arange(n_sp)[None, None, None, :]
    index = (((i * d_in + d_src) * n + c) * n_sp + s).reshape(-1)
    with torch.inference_mode(False):  # shared: never an inference tensor (see _on_device)
        return torch.from_numpy(index.astype(np.int64))


# Off the CPU, the layers holding the same constant on the same device share one tensor, freed with the
# last of them (on the CPU the cached tensors above are shared already). The keys hold the bases and
# factors (cached, immutable objects), so a key cannot be reused for another constant while it is here.
_ON_DEVICE: weakref.WeakValueDictionary[tuple[Any, ...], torch.Tensor] = weakref.WeakValueDictionary()


def _on_device(cpu_tensor: torch.Tensor, key: tuple[Any, ...], device: Any) -> torch.Tensor:
    """``cpu_tensor`` (the constant named by ``key``) on ``device``, one copy per device."""
    dev = torch.device(device)
    if dev.type == "cpu":
        return cpu_tensor
    if _tracing():  # (not shared: see _shared_constant)
        return cpu_tensor.to(dev)
    if dev.index is None and dev.type != "meta":
        dev = torch.empty(0, device=dev).device  # "cuda" -> "cuda:<current>", as tensors report it
    full = (*key, dev)
    found = _ON_DEVICE.get(full)
    if found is None:
        # a layer moved under torch.inference_mode() must not hand an inference tensor to the layers
        # that train (they could not save it for backward)
        with torch.inference_mode(False):
            found = _ON_DEVICE[full] = cpu_tensor.to(dev)
    return found


# Off the CPU, a regular -> regular block whose dense basis takes at most this many bytes (in the layer's
# dtype; C16 k=7 in float32: 15.3 MiB) is expanded with the dense basis: one GEMM instead of the factored
# form's two or three GEMMs and a gather. Measured on an H100 (benchmarks/factored_expansion.py
# --device cuda): expansion forward + backward 180-310 us dense against 340-500 us factored, training
# steps at 64 channels, 64x64, batch 32 1.06-1.39x the plain conv's against 1.22-1.47x. On the CPU the
# factored form is faster.
DENSE_OFF_CPU_BYTES = 16 << 20


def _default_device() -> torch.device:
    """Where a tensor made without ``device=`` goes (follows ``with torch.device(...)``)."""
    return torch.empty(0).device


class _Block:
    """One (dst rep, src rep) block of the filter: ``n_out x n_in`` fields, dense or factored basis.

    Its tensors are constants made from the cached float64 basis; pickling keeps
    them (so ``torch.load(map_location=...)`` moves them) but not the basis,
    which is looked up again from its representations on load.  Which form a
    block with factors uses is chosen when its tensors are made (``build``):
    factored on the CPU, dense elsewhere up to :data:`DENSE_OFF_CPU_BYTES`.
    """

    def __init__(self, basis: KernelBasis, n_out: int, n_in: int, out_group: int, offset: int, dtype, device) -> None:
        self.n_out, self.n_in, self.out_group, self.offset = n_out, n_in, out_group, offset
        self.d_out, self.d_in, self.dim = basis.rep_out.size, basis.rep_in.size, basis.dim
        self.size = n_out * n_in * basis.dim
        self._attach(basis)
        self.tensors: list[torch.Tensor] = []
        self.build(dtype, device)

    def _attach(self, basis: KernelBasis) -> None:
        self.basis = basis
        self.factors = regular_factors(basis) if basis.dim else None
        if self.factors is not None:
            self.n_spatial = self.factors.spatial.shape[0]
            # the pixel basis' spatial functions are the pixels: no last GEMM
            self.pixels = bool(np.array_equal(self.factors.spatial.reshape(self.n_spatial, -1), np.eye(self.n_spatial)))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        b = state.pop("basis")
        del state["factors"]
        state["basis_key"] = (b.rep_in, b.rep_out, b.kernel_size, b.kind)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        key = state.pop("basis_key")
        self.__dict__.update(state)
        self._attach(kernel_basis(*key))
        # a block saved on one device and loaded on another (torch.load's map_location) takes the form
        # chosen there: a CUDA block (dense) loaded on the CPU is factored again
        floats = [t for t in self.tensors if t.is_floating_point()]
        if floats and self.factored == self.dense_on(floats[0].dtype, floats[0].device):
            self.build(floats[0].dtype, floats[0].device)

    def dense_on(self, dtype: torch.dtype, device: Any) -> bool:
        """Whether the block expands with its dense basis when its tensors are ``dtype`` on ``device``."""
        if self.factors is None:
            return True
        nbytes = self.dim * self.d_out * self.d_in * self.basis.kernel_size**self.basis.spatial_dims * dtype.itemsize
        return torch.device(device).type != "cpu" and nbytes <= DENSE_OFF_CPU_BYTES

    def build(self, dtype: torch.dtype, device: Any) -> None:
        """(Re)make the constant tensors in ``dtype`` on ``device`` from the float64 bases."""
        self.factored = not self.dense_on(dtype, device)
        if self.factors is not None and self.factored:
            f = self.factors
            gen, act, spatial = _factor_tensors(f, dtype)
            self.tensors = [
                _on_device(gen, ("generator", f, dtype), device),
                _on_device(act, ("actions", f, dtype), device),
                _on_device(_gather_index(f, self.n_in), ("index", f, self.n_in), device),
            ]
            if not self.pixels:
                self.tensors.append(_on_device(spatial, ("spatial", f, dtype), device))
        else:
            basis = self.basis
            self.tensors = (
                [_on_device(_basis_tensor(basis, dtype), ("basis", basis, dtype), device)] if self.dim else []
            )

    def expand(self, coef: torch.Tensor, ks: tuple[int, ...]) -> torch.Tensor:
        """The block ``(n_out * d_out, n_in * d_in, *ks)`` for its weights ``coef`` (``n_out * n_in * dim``)."""
        no, ni, do, di, dim = self.n_out, self.n_in, self.d_out, self.d_in, self.dim
        if dim == 0:
            return coef.new_zeros(no * do, ni * di, *ks)
        if not self.factored:
            basis = self.tensors[0]
            filt = (coef.view(no * ni, dim) @ basis).view(no, ni, do, di, *ks)
            return filt.transpose(1, 2).reshape(no * do, ni * di, *ks)
        kh, kw = ks  # (factored: planar only)
        # regular output fields: the first row of each (out, in) field pair from the generator, turned
        # by every group element in one GEMM, gathered into (c, in, d) order, then sampled on the grid
        gen, act, index = self.tensors[0], self.tensors[1], self.tensors[2]
        n_sp = self.n_spatial
        rows = (coef.view(no * ni, dim) @ gen).view(no * ni * di, n_sp)
        turned = (rows @ act).view(no, ni * di * do * n_sp)
        coeffs = turned.index_select(1, index)
        if self.pixels:
            return coeffs.view(no * do, ni * di, kh, kw)
        return (coeffs.view(no * do * ni * di, n_sp) @ self.tensors[3]).view(no * do, ni * di, kh, kw)

    def project(self, part: torch.Tensor) -> torch.Tensor:
        """The block's weights nearest to its part ``(n_out * d_out, n_in * d_in, *ks)`` of a filter (float64)."""
        no, ni, do, di = self.n_out, self.n_in, self.d_out, self.d_in
        part = part.reshape(no, do, ni, di, -1).permute(0, 2, 1, 3, 4).reshape(no * ni, -1)
        basis = torch.from_numpy(np.array(self.basis.filters).reshape(self.dim, -1))  # (a copy: read-only)
        return (part @ basis.T).reshape(-1)

    def init_energies(self) -> tuple[float, float]:
        """What one output channel's filter gets from weights of unit variance: its expected energy (the
        white-noise response) and the expected square of its sum over taps and channels (the response to a
        constant input); see :meth:`FilterBank.init_`."""
        mix = self.basis.init_mix
        # each filter's response to a constant image, from the factors (not the dense filters)
        spatial_axes = tuple(range(1, self.basis.spatial.ndim))
        sums = (self.basis.coefficients @ self.basis.spatial.sum(axis=spatial_axes)).sum(-1)
        return (
            self.n_in * float(np.square(mix).sum()) / self.d_out,
            self.n_in * float(np.square(mix.T @ sums).sum()) / self.d_out,
        )

    def init_(self, w: torch.Tensor, variance: float) -> None:
        """Draw the block's weights: iid Gaussians of ``variance`` along the basis' ``init_mix`` directions."""
        mix_t = torch.from_numpy(np.array(self.basis.init_mix))  # (the basis' array is read-only)
        z = torch.empty(self.n_out * self.n_in, mix_t.shape[1], dtype=torch.float64).normal_(0.0, math.sqrt(variance))
        w.copy_((z @ mix_t.T).reshape(-1).to(w))


class _InducedBlock:
    """A block into regular fields of an octahedral group from permutation fields (trivial, regular), 3-D.

    Its weights are the free first row of each (out field, in field) filter,
    ``(d_in, k, k, k)`` numbers laid out like a ``torch.nn.Conv3d`` filter's
    row, and the block is that row gathered into every channel of the regular
    field (:func:`eqcnn.kernels._voxel.induced_index`): one ``index_select``,
    no basis and no GEMM.  Each filter entry is one weight, so He's rule is
    torch's (variance ``2 / fan_in``).
    """

    def __init__(self, rep_in: Any, rep_out: Any, kernel_size: int, n_out: int, n_in: int, out_group: int,
                 offset: int, device: Any) -> None:  # fmt: skip
        self.rep_in, self.rep_out, self.kernel_size = rep_in, rep_out, kernel_size
        self.n_out, self.n_in, self.out_group, self.offset = n_out, n_in, out_group, offset
        self.d_out, self.d_in = rep_out.size, rep_in.size
        self.dim = self.d_in * kernel_size**3
        self.size = n_out * n_in * self.dim
        self.tensors: list[torch.Tensor] = []
        self.build(torch.float32, device)

    def build(self, dtype: torch.dtype, device: Any) -> None:
        del dtype  # (an index: no floating constants)
        key = ("induced", self.rep_in, self.kernel_size, self.n_out, self.n_in)
        self.tensors = [_on_device(_induced_tensor(self.rep_in, self.kernel_size, self.n_out, self.n_in), key, device)]

    def expand(self, coef: torch.Tensor, ks: tuple[int, ...]) -> torch.Tensor:
        # one gather of the flat weights straight into the filter's layout (a gather along an inner axis, and
        # a transpose after it, measured 3x slower for a 48 -> 48 k5 filter)
        return coef.index_select(0, self.tensors[0]).view(self.n_out * self.d_out, self.n_in * self.d_in, *ks)

    def project(self, part: torch.Tensor) -> torch.Tensor:
        """Least squares: each weight is copied into ``d_out`` entries, so it is their mean."""
        index = _induced_tensor(self.rep_in, self.kernel_size, self.n_out, self.n_in)
        w = part.new_zeros(self.size).index_add_(0, index, part.reshape(-1))
        return w / self.d_out

    def init_energies(self) -> tuple[float, float]:
        # every entry of an output channel's filter is one weight, and its sum is the sum of its weights
        return float(self.n_in * self.dim), float(self.n_in * self.dim)

    def init_(self, w: torch.Tensor, variance: float) -> None:
        w.normal_(0.0, math.sqrt(variance))


@_shared_constant
def _induced_tensor(rep_in: Any, kernel_size: int, n_out: int, n_in: int) -> torch.Tensor:
    """The gather index of :class:`_InducedBlock`: for each entry of the block ``(n_out, N, n_in, d_in, k^3)``
    (torch's filter layout), its position in the weights ``(n_out, n_in, d_in * k^3)``; int64, shared by the
    layers of the same shape (as many entries as the filter)."""
    induced = np.asarray(induced_index(rep_in, kernel_size))  # (N, d_in, k^3) into one field pair's row
    dim = induced.shape[1] * induced.shape[2]
    pair = (np.arange(n_out)[:, None] * n_in + np.arange(n_in)[None, :]) * dim  # (n_out, n_in)
    full = pair[:, None, :, None] + induced.reshape(induced.shape[0], 1, dim)[None]  # (n_out, N, n_in, dim)
    with torch.inference_mode(False):
        return torch.from_numpy(np.ascontiguousarray(full).reshape(-1).astype(np.int64))


class FilterBank:
    """The linear map from a weight vector to the filter of an equivariant conv from ``src`` to ``dst`` fields.

    The filter ``(dst.size, src.size, kh, kw)`` is assembled block by block:
    fields are grouped by representation, and each (dst rep, src rep) block is
    expanded from its weights with the cached :class:`~eqcnn.kernels.KernelBasis`:
    regular -> regular blocks on the CPU through the basis'
    :func:`~eqcnn.kernels.regular_factors` (small GEMMs and a gather), on other
    devices (up to :data:`DENSE_OFF_CPU_BYTES`) and for the other blocks by one
    GEMM with the dense basis.
    For the trivial group with the pixel basis the map is the identity and the
    weight *is* the filter (``torch.nn.Conv2d``'s layout).

    The basis tensors are plain tensor attributes, not buffers: they are
    constants, so ``state_dict`` does not hold them and DDP does not broadcast
    them; the owning module moves them in its ``_apply`` (``.to()``,
    ``.cuda()``, ``.half()``).
    """

    def __init__(
        self,
        src: FieldType,
        dst: FieldType,
        kernel_size: tuple[int, ...],
        kind: str,
        dtype: torch.dtype | None = None,
        device: Any = None,
        groups: int = 1,
    ) -> None:
        # groups > 1 only for the identity map (the trivial group): torch's grouped layout
        self.shape = (dst.size, src.size // groups, *kernel_size)
        self.identity = src.group.order == 1 and kind == "pixel"
        self.blocks: list[_Block | _InducedBlock] = []
        self.perms: tuple[torch.Tensor, torch.Tensor] | None = None
        self.single: _Block | _InducedBlock | None = None
        if self.identity:
            self.size = int(np.prod(self.shape))
            return
        kh = kernel_size[0]
        volumes = len(kernel_size) == 3
        dst_groups, dst_inv = group_fields(dst)
        src_groups, src_inv = group_fields(src)
        dtype = dtype or torch.get_default_dtype()
        device = torch.device(device) if device is not None else _default_device()
        self.dtype = dtype
        offset = 0
        for oi, (ro, ofields) in enumerate(dst_groups):
            for ri, ifields in src_groups:
                blk: _Block | _InducedBlock
                if volumes and ro == dst.group.regular_representation and ri.is_permutation:
                    blk = _InducedBlock(ri, ro, kh, len(ofields), len(ifields), oi, offset, device)
                else:
                    b = kernel_basis(ri, ro, kh, kind)  # type: ignore[arg-type]
                    blk = _Block(b, len(ofields), len(ifields), oi, offset, dtype, device)
                self.blocks.append(blk)
                offset += blk.size
        self.size = offset
        self.n_out_groups = len(dst_groups)
        self._perm_lists = (dst_inv, src_inv) if dst_inv != sorted(dst_inv) or src_inv != sorted(src_inv) else None
        if self._perm_lists is not None:
            self.perms = (torch.tensor(dst_inv, device=device), torch.tensor(src_inv, device=device))
        # one block covering the whole weight (e.g. regular -> regular) is the common case: no slicing or cat
        if len(self.blocks) == 1 and self.blocks[0].dim > 0 and self.perms is None:
            self.single = self.blocks[0]

    def weight_shape(self) -> tuple[int, ...]:
        """The parameter's shape: the filter's for the identity map, else a flat vector."""
        return self.shape if self.identity else (self.size,)

    def apply_(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Follow ``nn.Module._apply`` (``.to()``, ``.cuda()``, ``.half()``, ``.to_empty()``...).

        The constants are rebuilt from the float64 bases on the device and in
        the floating dtype that ``fn`` gives a float tensor: so ``.double()``
        gives float64-accurate filters, not float32 ones widened, and
        ``.to_empty()`` after meta-device initialisation gives real constants,
        not uninitialised memory.
        """
        if self.identity:
            return
        held = [t for blk in self.blocks for t in blk.tensors]
        current = held[0].device if held else _default_device()
        probe = fn(torch.zeros(1, dtype=self.dtype, device=current))
        if probe.is_floating_point():
            self.dtype = probe.dtype
        for blk in self.blocks:
            blk.build(self.dtype, probe.device)
        if self._perm_lists is not None:
            self.perms = tuple(torch.tensor(p, device=probe.device) for p in self._perm_lists)  # type: ignore[assignment]

    def expand(self, w: torch.Tensor) -> torch.Tensor:
        """The filter ``(dst.size, src.size, *kernel_size)`` for the weight ``w``."""
        ks = self.shape[2:]
        if self.identity:
            return w.view(self.shape)
        if self.single is not None:
            return self.single.expand(w, ks)
        rows: list[list[torch.Tensor]] = [[] for _ in range(self.n_out_groups)]
        for blk in self.blocks:
            rows[blk.out_group].append(blk.expand(w[blk.offset : blk.offset + blk.size], ks))
        filt = torch.cat([torch.cat(r, dim=1) for r in rows], dim=0)
        if self.perms is not None:
            filt = filt.index_select(0, self.perms[0]).index_select(1, self.perms[1])
        return filt

    def project(self, filt: torch.Tensor) -> torch.Tensor:
        """The weight whose filter is nearest to ``filt`` (least squares, in float64): the inverse of :meth:`expand`.

        ``filt`` has the filter's shape ``(dst.size, src.size, kh, kw)``. Each
        block's basis is orthonormal, so the projection of a block is one
        product with its dense basis; the identity map gives ``filt`` itself.
        The caller measures the residual ``expand(project(filt)) - filt``.
        """
        if tuple(filt.shape) != self.shape:
            raise ValueError(f"`filt` must have the filter's shape {self.shape}, got {tuple(filt.shape)}")
        f = filt.detach().to("cpu", torch.float64)
        if self.identity:
            return f.clone()
        if self._perm_lists is not None:  # the grouped layout: channel ``pos`` of it is ``t``'s channel ``inv[pos]``
            dst_order, src_order = (np.argsort(p) for p in self._perm_lists)
            f = f[torch.from_numpy(dst_order)][:, torch.from_numpy(src_order)]
        w = torch.zeros(self.size, dtype=torch.float64)
        row, col, group, height = 0, 0, 0, 0
        for blk in self.blocks:  # row after row of blocks (one per output representation), as expand() cats them
            if blk.out_group != group:
                row, col, group = row + height, 0, blk.out_group
            no, ni, do, di = blk.n_out, blk.n_in, blk.d_out, blk.d_in
            height = no * do
            if blk.dim:
                w[blk.offset : blk.offset + blk.size] = blk.project(f[row : row + no * do, col : col + ni * di])
            col += ni * di
        return w

    def init_(self, w: torch.Tensor) -> None:
        """He initialisation of ``w`` in place, aware of the basis (see :meth:`Conv2d.reset_parameters`).

        The random filter is drawn along the basis' ``init_mix`` directions
        (for the harmonic basis: its ring/frequency functions, each normalised)
        with iid Gaussian weights, scaled by the He rule.
        """
        with torch.no_grad():
            if self.identity:
                fan_in = math.prod(self.shape[1:])  # in channels (per group) times the kernel's taps
                w.normal_(0.0, math.sqrt(2.0 / max(fan_in, 1)))
                return
            # a random filter is a sum of the basis' init_mix directions with iid weights
            white: dict[int, float] = {}
            dc: dict[int, float] = {}
            for blk in self.blocks:
                if blk.dim == 0:
                    continue
                e_white, e_dc = blk.init_energies()
                g = blk.out_group
                white[g] = white.get(g, 0.0) + e_white
                dc[g] = dc.get(g, 0.0) + e_dc
            for blk in self.blocks:
                if blk.size == 0:
                    continue
                g = blk.out_group
                denom = (0.5 - 0.5 / math.pi) * white[g] + dc[g] / (2 * math.pi)
                blk.init_(w[blk.offset : blk.offset + blk.size], 1.0 / denom)


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
        self._matrix = inv.reshape(t.size, self.size)
        self.basis = _constant(self._matrix, dtype or torch.get_default_dtype()).to(
            device if device is not None else _default_device()
        )

    def apply_(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        probe = fn(torch.zeros(1, dtype=self.basis.dtype, device=self.basis.device))
        dtype = probe.dtype if probe.is_floating_point() else self.basis.dtype
        self.basis = _constant(self._matrix, dtype).to(probe.device)  # rebuilt, as FilterBank.apply_ does

    def expand(self, b: torch.Tensor) -> torch.Tensor:
        return b if self.identity else self.basis @ b

    def project(self, full: torch.Tensor) -> torch.Tensor:
        """The bias vector whose expansion is nearest to the full bias ``full`` ``(t.size,)`` (least squares)."""
        f = full.detach().to("cpu", torch.float64)
        if self.identity:
            return f.clone()
        if self.size == 0:
            return f.new_zeros(0)
        return torch.linalg.lstsq(torch.from_numpy(self._matrix), f[:, None]).solution[:, 0]


def _autocast_on(device_type: str) -> bool:
    if device_type not in ("cpu", "cuda", "xpu", "mps"):
        return False
    try:
        return bool(torch.is_autocast_enabled(device_type))
    except TypeError:  # torch < 2.4
        return bool(torch.is_autocast_enabled() if device_type == "cuda" else torch.is_autocast_cpu_enabled())


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

    def _expand(
        self, w: torch.Tensor | None = None, b: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if w is None:
            w, b = self.weight, self.bias
        device_type = w.device.type
        if _autocast_on(device_type):
            # the expansion stays in the weights' dtype: under autocast its GEMMs would cast the weights and
            # every constant on each call (19 casts per CPU training step against a plain conv's 7), round the
            # filter twice, and fill the eval cache with a low-precision filter that later full-precision
            # calls would get; the conv casts the filter once, as it does a plain conv's weight
            with torch.autocast(device_type, enabled=False):
                return self._bank.expand(w), None if b is None else self._bias_map.expand(b)
        return self._bank.expand(w), None if b is None else self._bias_map.expand(b)

    def expand_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The full filter (``torch``'s layout for the layer) and bias ``(out_type.size,)``.

        In eval mode the result is cached until the weights change (in-place
        updates, ``load_state_dict``, ``.to()``) or the module's mode changes; while
        gradients to the weights are wanted, or under ``torch.compile``, it is
        recomputed; so it is while a CUDA graph is captured (the graph then replays the
        expansion).  Writes through ``weight.data`` bypass PyTorch's version
        counter: call :meth:`clear_cache` after them.
        """
        params = self._parameters
        if "weight" not in params or "bias" not in params:
            # parametrized or pruned: the weight is recomputed every call, and a new tensor may reuse a freed
            # one's address and version, so no cache key can be trusted
            return self._expand()
        # 10x faster than nn.Module.__getattr__, which costs ~3% of a tiny layer's eval forward
        w, b = cast(torch.Tensor, params["weight"]), params["bias"]
        if (
            self.training
            or (w.requires_grad and torch.is_grad_enabled())
            or torch.compiler.is_compiling()
            or (w.is_cuda and torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())
        ):
            # a compiled graph cannot check the cache key, and a CUDA graph replays without Python: neither
            # uses the cache (compiled, the expansion is recomputed and fused; captured, it replays with the
            # conv, so a graph follows in-place weight updates instead of the filter cached before them).
            # (is_available: a fake CUDA tensor on a CPU-only build must not reach the CUDA runtime)
            return self._expand(w, b)
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
                filt, bias = self._expand(w, b)
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


def constants_follow_weight(module: ExpandedFilterModule, incompatible_keys: Any = None) -> None:
    """A ``load_state_dict`` post-hook of the layers: the constants go where the loaded weights are.

    ``load_state_dict(assign=True)`` (loading into a model built on the meta
    device) swaps in the loaded tensors without ``_apply``, so the constants
    would stay behind. A post-hook runs after the layer's submodules are
    loaded too, so a parametrized weight's ``original`` has arrived by then.
    """
    module._cache = None
    w = next((p for p in module.parameters() if p.is_floating_point()), None)
    if w is None or w.is_meta:
        return
    here = module._bias_map.basis  # (the constants always move together: one of them tells where they are)
    if here.device != w.device or here.dtype != w.dtype:

        def where(t: torch.Tensor) -> torch.Tensor:  # (the constants are rebuilt from float64 there)
            return torch.empty_like(t, device=w.device, dtype=w.dtype if t.is_floating_point() else t.dtype)

        module._bank.apply_(where)
        module._bias_map.apply_(where)
