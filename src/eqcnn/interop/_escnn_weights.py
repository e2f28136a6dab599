"""Trained escnn weights into an eqcnn model: each filter projected onto eqcnn's basis, with the residual measured.

The two models are walked in module order; their layers with parameters are
paired one to one (convolutions, transposed convolutions, batch norms, linear
heads and plain torch layers) and checked for the same field types and
geometry. An eqcnn filter is the least-squares projection of escnn's expanded
filter onto the layer's basis: exact (float32 rounding) where the two bases
span the same space, as ``basis="escnn"`` does (escnn's default rings and band
limits for ``R2Conv``, at dilation 1) and the pixel basis for C4 and D4. Nothing
is written unless every layer's relative residual is within ``tolerance``.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .. import nn as enn
from .._checks import check_positive
from ._escnn import escnn, from_escnn_type

__all__ = ["LayerPort", "PortReport", "load_escnn_weights"]

# plain torch layers whose parameters are copied as they are, on either side
_TORCH_LAYERS = (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)


@dataclass(frozen=True)
class LayerPort:
    """One pair of layers: what was loaded, and how well.

    ``residual``: the relative L2 distance between escnn's parameters (its
    expanded filter and bias, or its batch norm's per-channel statistics and
    affine parameters) and the eqcnn layer's after the load. ``output_error``:
    the relative L2 difference of the two layers' outputs (eval mode) on one
    random input.
    """

    eqcnn_name: str
    escnn_name: str
    kind: str
    parameters: int
    residual: float
    output_error: float


@dataclass
class PortReport:
    """What :func:`load_escnn_weights` did, one row per pair of layers (``str()`` prints the table)."""

    layers: list[LayerPort] = field(default_factory=list)
    tolerance: float = 1e-5

    @property
    def max_residual(self) -> float:
        return max((r.residual for r in self.layers), default=0.0)

    @property
    def max_output_error(self) -> float:
        return max((r.output_error for r in self.layers), default=0.0)

    def __str__(self) -> str:
        head = ("eqcnn layer", "escnn layer", "kind", "params", "residual", "output error")
        rows = [
            (r.eqcnn_name, r.escnn_name, r.kind, str(r.parameters), f"{r.residual:.2e}", f"{r.output_error:.2e}")
            for r in self.layers
        ]
        widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
        line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
        out = [line(head), "-+-".join("-" * w for w in widths), *(line(row) for row in rows)]
        out.append(
            f"{len(rows)} layers loaded; largest residual {self.max_residual:.2e} (tolerance {self.tolerance:g})"
        )
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"PortReport({len(self.layers)} layers, max_residual={self.max_residual:.2e})"


# -- walking the two models ------------------------------------------------------------------------


# (class, kind) in the order they are tried: a subclass before its base; plain torch layers are "torch.<name>"
_EQCNN_KINDS: tuple[tuple[Any, str], ...] = (
    (enn.ConvTranspose2d, "ConvTranspose2d"),
    (enn.Conv2d, "Conv2d"),
    (enn.BatchNorm2d, "BatchNorm2d"),
    (enn.Linear, "Linear"),
)
_ESCNN_KINDS: tuple[tuple[Any, str], ...] = (
    (escnn.nn.R2ConvTransposed, "ConvTranspose2d"),
    (escnn.nn.R2Conv, "Conv2d"),
    ((escnn.nn.InnerBatchNorm, escnn.nn.IIDBatchNorm2d), "BatchNorm2d"),
    (nn.Linear, "Linear"),  # an escnn model's head: loads into torch's Linear or eqcnn's
)


def _kind(m: nn.Module, kinds: tuple[tuple[Any, str], ...]) -> str | None:
    kind = next((k for cls, k in kinds if isinstance(m, cls)), None)
    if kind is None and isinstance(m, _TORCH_LAYERS):
        return "torch." + type(m).__name__
    return kind


def _own_state(m: nn.Module) -> list[str]:
    """The parameters and running statistics a module holds itself (not in submodules)."""
    names = [n for n, _ in m.named_parameters(recurse=False)]
    return names + [n for n, _ in m.named_buffers(recurse=False) if n.startswith("running_")]


def _layers(model: nn.Module, which: str) -> list[tuple[str, nn.Module, str]]:
    """``(name, module, kind)`` of the layers with parameters, in module order; refuses layers it cannot load."""
    kinds = _EQCNN_KINDS if which == "eqcnn" else _ESCNN_KINDS
    found: list[tuple[str, nn.Module, str]] = []

    def visit(name: str, m: nn.Module) -> None:
        kind = _kind(m, kinds)
        if kind is not None:
            found.append((name or "(the model)", m, kind))
            return  # (an escnn layer's submodules are its own business)
        if _own_state(m):
            raise ValueError(
                f"load_escnn_weights: the {which} layer `{name or '(the model)'}` ({type(m).__name__}) holds "
                f"{', '.join(_own_state(m))}, but it is not a layer whose weights map to the other library's "
                "(convolutions, batch norms, linear heads and plain torch layers do)"
            )
        for child_name, child in m.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", model)
    return found


# -- one pair of layers ----------------------------------------------------------------------------


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    scale = float(b.norm())
    diff = float((a - b).norm())
    return diff / scale if scale > 0 else diff


def _where(q: str, e: str) -> str:
    return f"eqcnn `{q}` / escnn `{e}`"


def _check_types(q: Any, e: Any, where: str) -> None:
    for side in ("in_type", "out_type"):
        theirs = getattr(e, side)
        target = getattr(q, side).group
        try:  # an SO(2) / O(2) type is read at the eqcnn layer's band limit (escnn's gspace may allow more)
            mapped = from_escnn_type(theirs, group=target if target.is_continuous else None)
        except (TypeError, ValueError) as err:
            raise ValueError(f"load_escnn_weights: {where}: escnn's {side} has no eqcnn counterpart ({err})") from None
        if mapped != getattr(q, side):
            raise ValueError(
                f"load_escnn_weights: {where}: `{side}` differs: eqcnn has {getattr(q, side)!r}, escnn has {mapped!r}"
            )


def _same(where: str, name: str, mine: Any, theirs: Any) -> None:
    if mine != theirs:
        raise ValueError(f"load_escnn_weights: {where}: `{name}` differs: eqcnn has {mine!r}, escnn has {theirs!r}")


def _pair(v: Any) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _conv_values(q: Any, e: Any, where: str) -> tuple[dict[str, torch.Tensor], float]:
    """The eqcnn conv's new weight and bias, and the relative residual of the filter and bias."""
    _check_types(q, e, where)
    _same(where, "kernel_size", tuple(q.kernel_size), _pair(e.kernel_size))
    _same(where, "stride", tuple(q.stride), _pair(e.stride))
    _same(where, "dilation", tuple(q.dilation), _pair(e.dilation))
    _same(where, "groups", q.groups, int(getattr(e, "groups", 1)))
    padding_mode = getattr(e, "padding_mode", "zeros")
    _same(where, "padding_mode", q.padding_mode, padding_mode)
    theirs_padding = _pair(e.padding) if not isinstance(e.padding, str) else e.padding
    mine_padding: Any = tuple(q.padding)
    if getattr(q, "_padding_same", False) and q._same_extra != (0, 0):
        mine_padding = "same"  # (an uneven 'same': escnn's numbers cannot say it)
    _same(where, "padding", mine_padding, theirs_padding)
    if q.basis_kind == "escnn" and tuple(q.dilation) != (1, 1):
        raise ValueError(
            f"load_escnn_weights: {where}: escnn scales its rings with `dilation` (={tuple(q.dilation)}), "
            "which basis='escnn' does not reproduce; use basis='pixel' (C4, D4) or dilation=1"
        )
    if hasattr(q, "output_padding"):
        _same(where, "output_padding", tuple(q.output_padding), _pair(getattr(e, "output_padding", 0)))
    with torch.no_grad():
        filt, bias = e.expand_parameters()
        filt = filt.detach().to("cpu", torch.float64)
        if tuple(filt.shape) != q._bank.shape:
            raise ValueError(
                f"load_escnn_weights: {where}: escnn's filter has shape {tuple(filt.shape)}, eqcnn's {q._bank.shape}"
            )
        w = q._bank.project(filt)
        values = {"weight": w.to(q.weight).reshape(q.weight.shape)}
        got = q._bank.expand(values["weight"]).double().cpu()  # (the identity map: the weight itself)
        mine_parts, theirs_parts = [got.reshape(-1)], [filt.reshape(-1)]
        full = torch.zeros(q.out_type.size, dtype=torch.float64) if bias is None else bias.detach().double().cpu()
        if q.bias is not None:
            b = q._bias_map.project(full)
            values["bias"] = b.to(q.bias)
            mine_parts.append(q._bias_map.expand(values["bias"]).double().cpu())
        else:
            mine_parts.append(torch.zeros_like(full))
        theirs_parts.append(full)
    return values, _rel(torch.cat(mine_parts), torch.cat(theirs_parts))


def _torch_batch_norm(e: Any) -> Any:
    """escnn's batch norm as a per-channel torch batch norm (on a copy: escnn's ``export`` sets eval mode)."""
    return copy.deepcopy(e).export()


def _norm_values(q: enn.BatchNorm2d, e: Any, where: str) -> tuple[dict[str, torch.Tensor], float]:
    _check_types(q, e, where)
    _same(where, "affine", q.affine, bool(e.affine))
    _same(where, "track_running_stats", q.track_running_stats, bool(e.track_running_stats))
    if not math.isclose(q.eps, float(e.eps), rel_tol=1e-12):
        _same(where, "eps", q.eps, float(e.eps))
    if not q.track_running_stats:
        raise ValueError(
            f"load_escnn_weights: {where}: batch norms without running statistics hold no trained state to load "
            "(escnn cannot export them either); build both with track_running_stats=True"
        )
    try:
        plain = _torch_batch_norm(e)
    except NotImplementedError as err:
        raise ValueError(
            f"load_escnn_weights: {where}: escnn cannot export this batch norm ({str(err).split(chr(10))[0].strip()} "
            "...): its fields of one size are not contiguous; order the field type so that they are"
        ) from None
    index = q._field_index.cpu()
    counts = q._field_counts.cpu().double()

    def per_field(v: torch.Tensor) -> torch.Tensor:  # the mean over each field's channels
        return torch.zeros(q.num_fields, dtype=torch.float64).index_add_(0, index, v.double().cpu()) / counts

    values: dict[str, torch.Tensor] = {}
    ref = q._field_counts  # (the layer's device and dtype)
    with torch.no_grad():
        values["running_var"] = per_field(plain.running_var).to(ref)
        values["running_mean"] = q._project_invariant(plain.running_mean.double().cpu()[None])[0].to(ref)
        values["num_batches_tracked"] = plain.num_batches_tracked.clone()
        if q.affine:
            values["weight"] = per_field(plain.weight).to(ref)
            basis = q._bias_basis.cpu().double()
            if basis.shape[1]:
                values["bias"] = torch.linalg.lstsq(basis, plain.bias.double().cpu()[:, None]).solution[:, 0].to(ref)
            else:
                values["bias"] = torch.zeros(0).to(ref)
        twin = copy.deepcopy(q)
        _write(twin, values)
        mine = twin.export()
    names = ["running_mean", "running_var"] + (["weight", "bias"] if q.affine else [])
    residual = _rel(
        torch.cat([getattr(mine, n).reshape(-1) for n in names]),
        torch.cat([getattr(plain, n).reshape(-1) for n in names]),
    )
    return values, residual


def _plain_values(q: nn.Module, e: nn.Module, where: str) -> tuple[dict[str, torch.Tensor], float]:
    theirs = dict(e.state_dict())
    mine = q.state_dict()
    if set(theirs) != set(mine) or any(theirs[k].shape != mine[k].shape for k in mine):
        shapes = lambda sd: {k: tuple(v.shape) for k, v in sd.items()}  # noqa: E731
        raise ValueError(
            f"load_escnn_weights: {where}: the parameters differ: eqcnn has {shapes(mine)}, escnn has {shapes(theirs)}"
        )
    for attr in ("stride", "padding", "dilation", "groups", "padding_mode", "eps"):
        if hasattr(q, attr):
            _same(where, attr, getattr(q, attr), getattr(e, attr))
    return {k: v.detach().clone() for k, v in theirs.items()}, 0.0


def _write(q: Any, values: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, v in values.items():
            target = getattr(q, name)
            target.copy_(v.to(target.device, target.dtype).reshape(target.shape))
    if hasattr(q, "clear_cache"):
        q.clear_cache()


# -- comparing outputs -----------------------------------------------------------------------------


def _probe(q: Any, kind: str) -> torch.Tensor:
    """A random input for the eqcnn-side layer ``q`` (made on the CPU, seeded)."""
    gen = torch.Generator().manual_seed(0)
    if isinstance(q, nn.Linear):
        return torch.randn(3, int(q.in_features), generator=gen)
    if isinstance(q, nn.BatchNorm1d):
        return torch.randn(3, int(q.num_features), generator=gen)
    if isinstance(q, nn.LayerNorm):
        return torch.randn(3, *q.normalized_shape, generator=gen)
    if isinstance(q, (nn.Conv2d, nn.BatchNorm2d)):
        channels = q.in_channels if isinstance(q, nn.Conv2d) else q.num_features
        return torch.randn(2, int(channels), 13, 13, generator=gen)
    if kind == "Linear":  # eqcnn.nn.Linear
        return torch.randn(3, q.in_type.size, generator=gen)
    size = q.dilation[0] * (q.kernel_size[0] - 1) + 1 + 2 * 5 if hasattr(q, "kernel_size") else 13
    return torch.randn(2, q.in_type.size, size, size, generator=gen)


def _held(m: nn.Module) -> torch.Tensor | None:
    """A floating tensor the module holds (a parameter, else a buffer): where its inputs must be."""
    return next((t for t in itertools.chain(m.parameters(), m.buffers()) if t.is_floating_point()), None)


def _output_error(q: nn.Module, e: nn.Module, kind: str) -> float:
    x = _probe(q, kind)
    modes = (q.training, e.training)
    try:
        q.eval()
        e.eval()
        with torch.no_grad():
            mine = q(x.to(_held(q)) if _held(q) is not None else x)
            ex = x.to(_held(e)) if _held(e) is not None else x
            if isinstance(e, escnn.nn.EquivariantModule):
                theirs = e(escnn.nn.GeometricTensor(ex, e.in_type)).tensor
            else:
                theirs = e(ex)
    finally:
        q.train(modes[0])
        e.train(modes[1])
    return _rel(mine, theirs)


# -- the entry point -------------------------------------------------------------------------------


def load_escnn_weights(module: nn.Module, escnn_module: nn.Module, *, tolerance: float = 1e-5) -> PortReport:
    """Load a (trained) escnn model's weights into the eqcnn model ``module`` of the same architecture.

    The layers with parameters of the two models are paired in module order:
    escnn's ``R2Conv`` / ``R2ConvTransposed`` with eqcnn's ``Conv2d`` /
    ``ConvTranspose2d`` (same field types, kernel size, stride, padding,
    dilation, padding mode), ``InnerBatchNorm`` / ``IIDBatchNorm2d`` with
    ``BatchNorm2d``, ``torch.nn.Linear`` with ``torch.nn.Linear`` or
    :class:`eqcnn.nn.Linear`, and other plain torch layers (``Linear``,
    ``Conv2d``, ``BatchNorm1d/2d``, ``LayerNorm``) with the same class. Layers
    without parameters (nonlinearities, pools, masks) are not paired: build
    them to match, the function cannot see them.

    Each eqcnn filter is the least-squares projection of escnn's expanded filter
    onto the layer's basis, the bias likewise onto its invariant directions;
    batch norms take escnn's statistics and affine parameters per field. This is
    exact (float32 rounding) where the two bases span the same space: build the
    eqcnn convolutions with ``basis="escnn"`` (escnn's default rings and band
    limits for ``R2Conv``), or, for C4 and D4, ``basis="pixel"``. eqcnn's
    default harmonic basis is another space (its filters reach 45 degrees
    better): escnn's filters then leave residuals of 2-8%, and the load is
    refused.

    Args:
        module: the eqcnn model (its parameters are overwritten).
        escnn_module: the escnn model (an ``escnn.nn.EquivariantModule`` or any
            ``torch.nn.Module`` holding escnn layers); left unchanged.
        tolerance: the largest relative residual accepted per layer.

    Returns:
        a :class:`PortReport`: per pair of layers, the relative residual of the
        parameters and the relative output difference on a random input (eval
        mode). ``print(report)`` shows the table.

    Raises:
        ValueError: the layers do not pair up (their numbers, kinds, field types
            or geometry differ), a layer cannot be mapped, or a residual exceeds
            ``tolerance``; the message names the layer, and nothing is written.

    Example (needs escnn)::

        from eqcnn.interop.escnn import load_escnn_weights
        report = load_escnn_weights(eqcnn_model, escnn_model)
        print(report)
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"`module` must be an eqcnn model (a torch.nn.Module), got {type(module).__name__}")
    if not isinstance(escnn_module, nn.Module):
        raise TypeError(f"`escnn_module` must be an escnn model (a torch.nn.Module), got {type(escnn_module).__name__}")
    tolerance = check_positive("tolerance", tolerance)
    mine, theirs = _layers(module, "eqcnn"), _layers(escnn_module, "escnn")
    if len(mine) != len(theirs):
        raise ValueError(
            f"load_escnn_weights: the models have different numbers of layers with parameters: eqcnn "
            f"{len(mine)} ({', '.join(n for n, _, _ in mine) or 'none'}), escnn {len(theirs)} "
            f"({', '.join(n for n, _, _ in theirs) or 'none'})"
        )
    planned: list[tuple[nn.Module, dict[str, torch.Tensor], LayerPort]] = []
    for (qn, q, qk), (en, e, ek) in zip(mine, theirs):
        where = _where(qn, en)
        if not (qk == ek or (qk, ek) == ("torch.Linear", "Linear")):
            raise ValueError(f"load_escnn_weights: {where}: the layers do not match: eqcnn has a {qk}, escnn a {ek}")
        if qk in ("Conv2d", "ConvTranspose2d"):
            values, residual = _conv_values(q, e, where)
        elif qk == "BatchNorm2d":
            values, residual = _norm_values(q, e, where)  # type: ignore[arg-type]
        else:
            values, residual = _plain_values(q, e, where)
        if not residual <= tolerance:
            hint = ""
            if qk.startswith("Conv") and getattr(q, "basis_kind", None) == "harmonic":
                hint = f"; build it with basis='escnn' (it has basis={q.basis_kind!r}) to hold escnn's filters exactly"
            raise ValueError(
                f"load_escnn_weights: {where} ({qk}): the relative residual of escnn's parameters on eqcnn's is "
                f"{residual:.2e}, above `tolerance` (={tolerance:g}){hint}; nothing was loaded"
            )
        twin = copy.deepcopy(q)  # the outputs are compared on a loaded copy: nothing is written before all pass
        _write(twin, values)
        count = sum(p.numel() for p in q.parameters())
        planned.append((q, values, LayerPort(qn, en, qk, count, residual, _output_error(twin, e, qk))))
    report = PortReport(tolerance=tolerance)
    for q, values, row in planned:
        _write(q, values)
        report.layers.append(row)
    return report
