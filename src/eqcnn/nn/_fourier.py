"""Nonlinearities for fields that do not permute channels: Fourier-sampled pointwise functions, norm pooling."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, check_number
from ..fields import FieldType
from ..groups import GroupElement, Representation
from ._fieldutil import check_field_type
from ._module import EquivariantModule

__all__ = ["FourierELU", "FourierPointwise", "NormPool", "fourier_sampling"]

_FUNCTIONS = ("relu", "elu", "gelu", "silu", "tanh", "sigmoid")


def _grid(group, N: int | None) -> tuple[GroupElement, ...]:
    """The elements a field is sampled on: all of a finite group's; ``N`` rotations (and their mirror
    images) of a continuous one."""
    if not group.is_continuous:
        if N is not None:
            raise ValueError(
                f"`N` is for SO2 / O2 only: a field of {group!r} is sampled on all {group.order} elements; got N={N}"
            )
        return tuple(group.elements)
    L = group.max_frequency
    if N is None:
        N = 4 * (L + 1)
    N = check_int("N", N, minimum=1)
    if N < 2 * L + 1:
        raise ValueError(
            f"`N` (={N}) must be at least 2 * max_frequency + 1 (={2 * L + 1}): fewer samples than that alias the "
            f"band-limited field of {group!r}"
        )
    return _circle_samples(group, N)


@lru_cache(maxsize=64)
def _circle_samples(group, N: int) -> tuple[GroupElement, ...]:
    """``N`` equally spaced rotations of a continuous group (and their mirror images), cached: every Fourier
    layer of a model asks for the same ones, and an element off the group's sample costs an exact fraction
    (~10 us each)."""
    flips = (False, True) if group.has_reflections else (False,)
    return tuple(group.element_at(360.0 * i / N, f) for f in flips for i in range(N))


def fourier_sampling(rep: Representation, grid: Sequence[GroupElement]) -> tuple[np.ndarray, np.ndarray]:
    """``(A, A+)``: the samples ``A x`` of the band-limited function with Fourier coefficients ``x`` at the
    ``grid`` elements, and the least-squares inverse back to the coefficients.

    ``rep`` must be a direct sum of irreps (``rep.components``), each irrep at
    most as often as its dimension: copy ``c`` of an irrep of dimension ``d``
    contributes ``sqrt(d) (rho(g) e_c) . x``, so the function is
    ``f(g) = sum sqrt(d) tr(rho(g)^T X)`` (the orthonormal Fourier basis) and
    ``f`` moves by left translation when ``x`` moves by ``rho(h)``.  The
    weights are scaled to unit norm over the field, escnn's convention (its
    ``FourierPointwise`` with ``normalize=True``), so trained escnn models load.
    """
    comps = rep.components
    if comps is None:
        raise ValueError(
            f"{rep!r} is not a known direct sum of irreps, so it has no Fourier sampling: use band-limited fields "
            "(G.bl_regular(n) for SO2 / O2) or irreps fields"
        )
    seen: dict[Representation, int] = {}
    cols = []
    for c in comps:
        copy = seen.get(c, 0)
        if copy >= c.size:
            raise ValueError(
                f"{rep!r} holds {c!r} more than {c.size} time(s), which a function on the group cannot tell apart; "
                "split it into several fields"
            )
        seen[c] = copy + 1
        e = np.zeros(c.size)
        e[copy] = np.sqrt(c.size)
        cols.append(np.stack([c(g) @ e for g in grid]))  # (n, d_c)
    weights = np.sqrt(sum(c.size for c in comps))  # the norm of the weights sqrt(d) e_c, all of them
    A = np.concatenate(cols, axis=1) / weights
    A[np.abs(A) < 1e-14] = 0.0
    gram = A.T @ A
    if np.linalg.matrix_rank(gram, tol=1e-9 * max(1.0, np.abs(gram).max())) < A.shape[1]:
        raise ValueError(f"{len(grid)} samples cannot hold {rep!r}: use more samples (`N`)")
    return A, np.linalg.solve(gram, A.T)


@lru_cache(maxsize=256)
def _shared_sampling(rep: Representation, N: int | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fourier_sampling` on the grid of ``N`` samples (:func:`_grid`), cached: every layer on the same
    fields shares it (read-only), so a model's nonlinearities after the first cost no sampling and no solve."""
    a, p = fourier_sampling(rep, _grid(rep.group, N))
    a.setflags(write=False)
    p.setflags(write=False)
    return a, p


class FourierPointwisePlain(nn.Module):
    """Plain form of :class:`FourierPointwise`: per run of fields, samples, the function, coefficients back.

    The runs' sampling matrices ``(n, d)`` and inverses ``(d, n)`` are stored end to end in two flat
    buffers (not saved in the ``state_dict``: they follow from the type); ``runs`` holds
    ``(first channel, fields, channels per field, samples, offset in the buffers)``.
    """

    if TYPE_CHECKING:
        samplers: torch.Tensor
        inverses: torch.Tensor

    def __init__(self, runs: list[tuple[int, int, int, int, int]], samplers: torch.Tensor, inverses: torch.Tensor,
                 function: str) -> None:  # fmt: skip
        super().__init__()
        self.runs = runs
        self.function = function
        self.register_buffer("samplers", samplers.clone(), persistent=False)
        self.register_buffer("inverses", inverses.clone(), persistent=False)

    def _apply_function(self, x: torch.Tensor) -> torch.Tensor:
        if self.function == "relu":
            return F.relu(x)
        if self.function == "elu":
            return F.elu(x)
        if self.function == "gelu":
            return F.gelu(x)
        if self.function == "silu":
            return F.silu(x)
        if self.function == "tanh":
            return torch.tanh(x)
        return torch.sigmoid(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        for start, count, size, n, offset in self.runs:
            a = self.samplers[offset : offset + n * size].view(n, size).to(x.dtype)
            p = self.inverses[offset : offset + n * size].view(size, n).to(x.dtype)
            xs = x[:, start : start + count * size].unflatten(1, (count, size))
            samples = self._apply_function(torch.einsum("nd,bcd...->bcn...", a, xs))  # (pixels or voxels)
            parts.append(torch.einsum("dn,bcn...->bcd...", p, samples).flatten(1, 2))
        return torch.cat(parts, dim=1)

    def extra_repr(self) -> str:
        return f"function={self.function!r}"


class FourierPointwise(EquivariantModule):
    """A pointwise nonlinearity on band-limited fields, through samples on the group (escnn's ``FourierPointwise``).

    Each field's channels are the Fourier coefficients of a function on the
    group.  The layer samples that function on a grid of elements (inverse
    Fourier transform), applies ``function`` to each sample, and projects the
    result back onto the field's frequencies (least squares: the Fourier
    transform on the grid).  Moving the field by a grid element permutes the
    samples, so the layer is exactly equivariant on the grid; between grid
    angles the frequencies the function creates above the band limit alias
    back, an error that falls as ``N`` grows (docs/concepts.md measures it).

    Fields: ``bl_regular`` fields of SO2 / O2 (sampled on ``N`` rotations, and
    their mirror images for O2), and irreps fields or known direct sums of
    irreps of any group (a finite group's on all its elements, so exactly
    equivariant to every element).  Trivial fields are sampled as constants:
    ``function`` applied to them.

    Args:
        in_type: the field type.
        function: ``"elu"``, ``"relu"``, ``"gelu"``, ``"silu"``, ``"tanh"`` or ``"sigmoid"``.
        N: the rotations sampled for SO2 / O2 (at least ``2 L + 1``; default
            ``4 (L + 1)``, a multiple of 4, so the quarter turns are grid
            elements and stay exact).  Not for finite groups.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> act = enn.FourierPointwise(eqcnn.SO2(3).bl_regular(2), "elu", N=16)
        >>> act(torch.randn(1, 14, 5, 5)).shape
        torch.Size([1, 14, 5, 5])
    """

    def __init__(self, in_type: FieldType, function: str = "elu", N: int | None = None) -> None:
        super().__init__()
        self.in_type = self.out_type = check_field_type("in_type", in_type)
        check_choice("function", function, _FUNCTIONS)
        self.function = function
        self.N = N
        n_grid = len(_grid(in_type.group, N))  # (checks N)
        runs, samplers, inverses, offset = [], [], [], 0
        for (rep, count), (start, _, size) in zip(in_type.runs(), in_type.channel_runs()):
            a, p = _shared_sampling(rep, N)
            runs.append((start, count, size, n_grid, offset))
            samplers.append(a.reshape(-1))
            inverses.append(p.reshape(-1))
            offset += a.size

        def flat(parts: list[np.ndarray]) -> torch.Tensor:
            return torch.as_tensor(np.concatenate(parts) if parts else np.zeros(0), dtype=torch.float64)

        self._plain = FourierPointwisePlain(runs, flat(samplers), flat(inverses), function)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self._plain(x[None])[0] if x.dim() == 3 else self._plain(x)

    def export(self) -> nn.Module:
        import copy

        return copy.deepcopy(self._plain)

    def extra_repr(self) -> str:
        n = "" if self.N is None else f", N={self.N}"
        return f"{self.in_type!r}, {self.function!r}{n}"


def FourierELU(in_type: FieldType, N: int | None = None) -> FourierPointwise:
    """``FourierPointwise(in_type, "elu", N)`` (escnn's ``FourierELU``)."""
    return FourierPointwise(in_type, "elu", N)


class NormPoolPlain(nn.Module):
    """Plain form of :class:`NormPool`: the norm of each field's channels."""

    def __init__(self, runs: list[tuple[int, int, int]], eps: float) -> None:
        super().__init__()
        self.runs = runs
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        for start, count, size in self.runs:
            xs = x[:, start : start + count * size].unflatten(1, (count, size))
            parts.append(torch.sqrt(xs.square().sum(2) + self.eps))
        return torch.cat(parts, dim=1)


class NormPool(EquivariantModule):
    """Each field to its norm, an invariant scalar (escnn's ``NormPool``): ``sqrt(|x_field|^2 + eps)``.

    Exactly invariant for every orthogonal representation (irreps, band-limited
    and any other fields), so it ends a network of non-permutation fields where
    :class:`GroupPool` ends one of regular fields.  ``eps`` keeps the gradient
    finite at zero.

    Shapes: ``(B, in_type.size, H, W) -> (B, len(in_type), H, W)``.
    """

    def __init__(self, in_type: FieldType, eps: float = 1e-12) -> None:
        super().__init__()
        self.in_type = check_field_type("in_type", in_type)
        self.eps = check_number("eps", eps, minimum=0)
        self.out_type = in_type.group.trivial(len(in_type))
        self._plain = NormPoolPlain(in_type.channel_runs(), self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self._plain(x[None])[0] if x.dim() == 3 else self._plain(x)

    def export(self) -> nn.Module:
        return NormPoolPlain(self._plain.runs, self.eps)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}" + (f", eps={self.eps}" if self.eps != 1e-12 else "")
