"""Kernel basis dimensions: eqcnn against escnn's R2Conv defaults (explained in docs/interop.md)."""

import numpy as np
import pytest

import eqcnn
from eqcnn.kernels import kernel_basis

pytestmark = pytest.mark.escnn
pytest.importorskip("escnn", exc_type=ImportError)
ie = pytest.importorskip("eqcnn.interop.escnn", exc_type=ImportError)

C4, C8, D4, D8 = eqcnn.Cyclic(4), eqcnn.Cyclic(8), eqcnn.Dihedral(4), eqcnn.Dihedral(8)

# (group, rep_in, rep_out, kernel_size) -> (eqcnn dim, escnn dim); None: escnn refuses (empty basis)
TABLE = {
    (C4, "trivial", "regular", 3): (6, 6),
    (C4, "trivial", "regular", 5): (11, 11),
    (C4, "trivial", "regular", 7): (20, 18),
    (C4, "regular", "regular", 5): (44, 44),
    (C4, "regular", "regular", 7): (80, 72),
    (C4, (1,), (2,), 7): (8, 8),
    (C8, "trivial", "regular", 7): (20, 18),
    (C8, "regular", "regular", 3): (48, 48),
    (C8, "regular", "regular", 5): (88, 88),
    (C8, "regular", "regular", 7): (160, 144),
    (C8, (1,), (2,), 5): (4, 4),
    (C8, "regular", (2,), 7): (40, 36),
    (D4, "trivial", "regular", 5): (11, 11),
    (D4, "regular", "regular", 5): (88, 88),
    (D4, "regular", "regular", 7): (160, 144),
    (D4, (1, 0), (1, 1), 5): (2, 2),
    (D4, "trivial", (1, 0), 5): (0, None),
    (D4, "trivial", (1, 0), 7): (1, None),
    (D8, "trivial", "regular", 7): (20, 18),
    (D8, (1, 0), (1, 1), 7): (3, 3),
}


def _rep(G, spec):
    if spec == "trivial":
        return G.trivial_representation
    if spec == "regular":
        return G.regular_representation
    return G.irrep(*spec)


@pytest.mark.parametrize("key", list(TABLE), ids=lambda k: f"{k[0]!r}-{k[1]}-{k[2]}-k{k[3]}")
def test_basis_dimension_against_escnn(key):
    from escnn import nn as enn

    G, a, b, k = key
    mine, theirs = TABLE[key]
    ri, ro = _rep(G, a), _rep(G, b)
    assert kernel_basis(ri, ro, k).dim == mine
    ti = ie.to_escnn_type(eqcnn.FieldType(G, [ri]))
    to = ie.to_escnn_type(eqcnn.FieldType(G, [ro]))
    if theirs is None:
        with pytest.raises(ValueError):
            enn.R2Conv(ti, to, k)
    else:
        assert enn.R2Conv(ti, to, k).basisexpansion.dimension() == theirs


@pytest.mark.parametrize(
    "key", [k for k, v in TABLE.items() if v[1] is not None], ids=lambda k: f"{k[0]!r}-{k[1]}-{k[2]}-k{k[3]}"
)
def test_the_escnn_basis_spans_escnns_filters(key):
    # basis="escnn": the same dimension as escnn's R2Conv default and the same space (escnn's filters,
    # projected on it, leave float32 rounding); the default basis has other rings (2-8% residuals)
    import torch
    from escnn import nn as enn

    from eqcnn import nn as qnn

    G, a, b, k = key
    ri, ro = _rep(G, a), _rep(G, b)
    tin, tout = eqcnn.FieldType(G, [ri, ri]), eqcnn.FieldType(G, [ro, ro, ro])
    theirs = enn.R2Conv(ie.to_escnn_type(tin), ie.to_escnn_type(tout), k, bias=False)
    assert kernel_basis(ri, ro, k, "escnn").dim == TABLE[key][1]
    bank = qnn.Conv2d(tin, tout, k, bias=False, basis="escnn").double()._bank
    default = qnn.Conv2d(tin, tout, k, bias=False).double()._bank
    for seed in range(3):
        torch.manual_seed(seed)
        torch.nn.init.normal_(theirs.weights)
        with torch.no_grad():
            filt = theirs.expand_parameters()[0].double()
        residual = (bank.expand(bank.project(filt)) - filt).norm() / filt.norm()
        assert residual < 1e-6, residual
        if TABLE[key][0] == TABLE[key][1] and b == "regular" and G.order > 4:
            off = (default.expand(default.project(filt)) - filt).norm() / filt.norm()
            assert off > 1e-3, off  # (the check above can fail: the default basis does not hold escnn's filters)


CONTINUOUS = [
    (eqcnn.SO2(3), "trivial", "bl_regular", 5),
    (eqcnn.SO2(3), "bl_regular", "bl_regular", 7),
    (eqcnn.SO2(3), "irrep1", "irrep3", 7),
    (eqcnn.O2(2), "trivial", "bl_regular", 7),
    (eqcnn.O2(2), "irrep10", "irrep12", 5),
    (eqcnn.O2(2), "bl_regular", "bl_regular", 5),
    (eqcnn.O2(2), "irrep11", "bl_regular", 7),
]


def _continuous_rep(G, name):
    if name == "trivial":
        return G.trivial_representation
    if name == "bl_regular":
        return G.bl_regular_representation
    digits = tuple(int(c) for c in name[len("irrep") :])
    return G.irrep(*digits)


@pytest.mark.parametrize("case", CONTINUOUS, ids=lambda c: f"{c[0]!r}-{c[1]}-{c[2]}-k{c[3]}")
def test_continuous_bases_have_escnns_dimension_and_span(case):
    # SO(2) / O(2) natively: basis='escnn' has escnn's dimension and holds escnn's filters (float32 rounding);
    # the default rings differ for k >= 7 (more frequencies on the inner rings), as for the finite groups
    import torch
    from escnn import nn as enn

    from eqcnn import nn as qnn

    G, a, b, k = case
    ri, ro = _continuous_rep(G, a), _continuous_rep(G, b)
    tin, tout = eqcnn.FieldType(G, [ri]), eqcnn.FieldType(G, [ro, ro])
    theirs = enn.R2Conv(ie.to_escnn_type(tin), ie.to_escnn_type(tout), k, bias=False)
    assert kernel_basis(ri, ro, k, "escnn").dim * 2 == theirs.basisexpansion.dimension()
    bank = qnn.Conv2d(tin, tout, k, bias=False, basis="escnn").double()._bank
    for seed in range(2):
        torch.manual_seed(seed)
        torch.nn.init.normal_(theirs.weights)
        with torch.no_grad():
            filt = theirs.expand_parameters()[0].double()
        residual = (bank.expand(bank.project(filt)) - filt).norm() / filt.norm()
        assert residual < 1e-6, residual


@pytest.mark.parametrize("G", [eqcnn.SO2(3), eqcnn.O2(2)], ids=repr)
def test_continuous_types_convert_both_ways(G):
    t = G.bl_regular(2) + G.trivial(1) + eqcnn.FieldType(G, [G.irreps()[-1]])
    assert ie.from_escnn_type(ie.to_escnn_type(t)) == t
    e = ie.to_escnn_type(t)
    for deg in (30.0, 90.0):
        g = G.rotation_by(deg)
        theirs = e.fiber_representation(ie.to_escnn_element(g))
        assert np.allclose(theirs, t.fibre_matrix(g), atol=1e-9)
