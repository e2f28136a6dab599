"""Benchmark cases and the three candidates built for each: eqcnn, escnn, and the plain conv2d."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch

import eqcnn
from eqcnn import nn as enn

GROUPS = {
    "C4": lambda: eqcnn.Cyclic(4),
    "C8": lambda: eqcnn.Cyclic(8),
    "C16": lambda: eqcnn.Cyclic(16),
    "D4": lambda: eqcnn.Dihedral(4),
    "D8": lambda: eqcnn.Dihedral(8),
    "SO2": lambda: eqcnn.SO2(3),  # band-limited fields (irreps 0..3, 7 channels) in place of regular ones
}


def hidden(G: eqcnn.PointGroup, n: int) -> eqcnn.FieldType:
    """``n`` regular fields, or band-limited regular-like ones (``bl_regular``) for SO(2)."""
    return G.bl_regular(n) if G.is_continuous else G.regular(n)


@dataclass(frozen=True)
class Case:
    """One layer: ``kind`` is "group" (regular -> regular) or "lift" (3 scalar channels -> regular).

    ``gpu`` marks the cases of the CUDA targets (>= 64 channels, 64x64, batch 32), run by default
    on CUDA only (they take seconds per step on a CPU; ``--cases gpu`` runs them anywhere).
    """

    name: str
    group: str
    kind: str
    fields_in: int
    fields_out: int
    kernel_size: int
    size: int
    batch: int
    gpu: bool = False


def _cases(group: str) -> list[Case]:
    order = hidden(GROUPS[group](), 1).size
    normal = max(1, 128 // order)  # 128 channels whatever the group: the same dense cost for every group
    return [
        Case(f"{group} tiny 2->2 fields k5 16px b4", group, "group", 2, 2, 5, 16, 4),
        Case(f"{group} normal {normal}->{normal} fields k5 32px b16", group, "group", normal, normal, 5, 32, 16),
        Case(f"{group} lift 3->{normal} fields k5 32px b16", group, "lift", 3, normal, 5, 32, 16),
        *(
            Case(f"{group} gpu {n}->{n} fields k5 64px b32", group, "group", n, n, 5, 64, 32, gpu=True)
            for n in (max(1, 64 // order), normal)
        ),
    ]


def cases_for(mode: str, only: list[str] | None, device: str = "cpu") -> list[Case]:
    """The cases of a run: the CPU ones, plus the ``gpu`` ones on CUDA (or when ``only`` names them)."""
    if mode == "quick":
        cases = [c for c in _cases("C8") if c.kind == "group"]
        widest = max(c.fields_in for c in cases if c.gpu)
        cases = [c for c in cases if not c.gpu or c.fields_in == widest]  # one GPU case: 128 channels
    else:
        cases = [c for g in GROUPS for c in _cases(g)]
    if only:
        return [c for c in cases if any(s in c.name for s in only)]
    return [c for c in cases if device == "cuda" or not c.gpu]


def _types(case: Case):
    G = GROUPS[case.group]()
    tin = G.trivial(case.fields_in) if case.kind == "lift" else hidden(G, case.fields_in)
    return tin, hidden(G, case.fields_out)


def _escnn():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import escnn.nn as esnn

        from eqcnn.interop import escnn as ie
    return esnn, ie


def _steps(module: torch.nn.Module, x: torch.Tensor, call) -> dict[str, Any]:
    """A training step (forward + backward; input gradient only for hidden layers) and an eval forward."""
    params = [p for p in module.parameters() if p.requires_grad]
    with torch.no_grad():
        grad = torch.randn_like(call(x))

    def train() -> None:  # the caller puts the module in training mode once, outside the timed region
        for p in params:
            p.grad = None
        x.grad = None
        call(x).backward(grad)

    def evaluate() -> None:  # the caller calls module.eval() once, outside the timed region
        with torch.no_grad():
            call(x)

    return {"train": train, "eval": evaluate, "module": module}


def build_candidates(case: Case, device: str) -> dict[str, dict[str, Any]]:
    tin, tout = _types(case)
    k = case.kernel_size
    x = torch.randn(case.batch, tin.size, case.size, case.size).to(device)
    x.requires_grad_(case.kind == "group")
    out: dict[str, dict[str, Any]] = {}

    t = time.perf_counter()
    plain = torch.nn.Conv2d(tin.size, tout.size, k, padding=k // 2).to(device)
    out["plain"] = {**_steps(plain, x, plain), "build_s": time.perf_counter() - t}

    t = time.perf_counter()
    conv = enn.Conv2d(tin, tout, k, padding=k // 2).to(device)
    out["eqcnn"] = {**_steps(conv, x, conv), "build_s": time.perf_counter() - t}

    try:
        esnn, ie = _escnn()
    except ImportError:
        return out
    t = time.perf_counter()
    ein, eout = ie.to_escnn_type(tin), ie.to_escnn_type(tout)
    r2 = esnn.R2Conv(ein, eout, k, padding=k // 2).to(device)
    build = time.perf_counter() - t

    def call(inp: torch.Tensor) -> torch.Tensor:
        return r2(esnn.GeometricTensor(inp, ein)).tensor

    out["escnn"] = {**_steps(r2, x, call), "build_s": build}
    return out


def model_builders(group: str, fields: int, library: str):
    """A function building lifting conv + 3 group convs (k=5) with ReLUs (SO(2): Fourier ELUs on 16
    samples), in eqcnn or escnn."""
    G = GROUPS[group]()
    tin, th = G.trivial(3), hidden(G, fields)

    def act(t):
        return enn.FourierELU(t, N=16) if G.is_continuous else enn.ReLU(t)

    if library == "eqcnn":

        def build() -> torch.nn.Module:
            layers: list[torch.nn.Module] = [enn.Conv2d(tin, th, 5, padding=2), act(th)]
            for _ in range(3):
                layers += [enn.Conv2d(th, th, 5, padding=2), act(th)]
            return enn.Sequential(*layers)

        return build

    esnn, ie = _escnn()

    def build_escnn() -> torch.nn.Module:
        ein, eh = ie.to_escnn_type(tin), ie.to_escnn_type(th)
        if G.is_continuous:
            gs = ein.gspace
            nl = esnn.FourierELU(gs, fields, irreps=gs.fibergroup.bl_irreps(G.max_frequency), N=16)
            eh = nl.in_type

            def eact(t):
                return esnn.FourierELU(gs, fields, irreps=gs.fibergroup.bl_irreps(G.max_frequency), N=16)
        else:

            def eact(t):
                return esnn.ReLU(t)

        layers = [esnn.R2Conv(ein, eh, 5, padding=2), eact(eh)]
        for _ in range(3):
            layers += [esnn.R2Conv(eh, eh, 5, padding=2), eact(eh)]
        return esnn.SequentialModule(*layers)

    return build_escnn
