"""Field types, elements and tensors against escnn (the reference library)."""

import numpy as np
import pytest
import torch

import eqcnn

pytestmark = pytest.mark.escnn
escnn = pytest.importorskip("escnn", exc_type=ImportError)
ie = pytest.importorskip("eqcnn.interop.escnn", exc_type=ImportError)

GROUPS = [eqcnn.Cyclic(4), eqcnn.Cyclic(8), eqcnn.Dihedral(4), eqcnn.Dihedral(8)]
ALL_GROUPS = [eqcnn.Trivial(), eqcnn.Cyclic(2), eqcnn.Cyclic(3), eqcnn.Dihedral(1), eqcnn.Dihedral(5), *GROUPS]


def _every_field(G):
    t = G.trivial(2) + G.regular(2)
    for r in G.irreps():
        t = t + eqcnn.FieldType(G, [r])
    return t


@pytest.mark.parametrize("G", ALL_GROUPS, ids=repr)
def test_round_trip_and_matrices(G):
    t = _every_field(G)
    e = ie.to_escnn_type(t)
    assert e.size == t.size
    assert ie.from_escnn_type(e) == t
    for mine, theirs in zip(t.representations, e.representations):
        for g in G.elements:
            np.testing.assert_allclose(theirs(ie.to_escnn_element(g)), mine(g), atol=1e-12)


@pytest.mark.parametrize("G", ALL_GROUPS, ids=repr)
def test_element_order_matches_regular_channels(G):
    # element i of eqcnn's group is escnn's element that maps regular channel 0 to channel i
    reg = ie.gspace_of(G).regular_repr
    for g in G.elements:
        m = reg(ie.to_escnn_element(g))
        assert int(np.argmax(m[:, 0])) == g.index


@pytest.mark.parametrize("G", GROUPS, ids=repr)
@pytest.mark.parametrize("kind", ["trivial", "regular", "irreps"])
@pytest.mark.parametrize("size", [8, 9])
def test_transform_agrees_with_geometric_tensor(G, kind, size):
    t = {"trivial": G.trivial(3), "regular": G.regular(2), "irreps": _every_field(G)}[kind]
    x = torch.randn(2, t.size, size, size)
    gt = ie.to_geometric_tensor(x, t)
    for g in G.elements:
        if not g.is_grid_symmetry:
            continue
        mine = t.transform(x, g)
        theirs = gt.transform(ie.to_escnn_element(g)).tensor
        if kind == "irreps":
            # escnn's irrep matrices at 90 degrees hold cos(pi/2) ~ 6e-17 where eqcnn has exact zeros
            torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-6)
        else:
            assert torch.equal(mine, theirs), g


def test_geometric_tensor_shares_memory():
    G = eqcnn.Dihedral(4)
    t = G.regular(3)
    x = torch.randn(2, t.size, 5, 5)
    gt = ie.to_geometric_tensor(x, t)
    assert gt.tensor.data_ptr() == x.data_ptr()
    back = ie.from_geometric_tensor(gt)
    assert back.data_ptr() == x.data_ptr()
    assert ie.from_escnn_type(gt.type) == t
    # an escnn type or an EscnnFieldType works too
    assert ie.to_geometric_tensor(x, ie.to_escnn_type(t)).tensor.data_ptr() == x.data_ptr()


def test_tensor_errors():
    t = eqcnn.Cyclic(4).regular(2)
    with pytest.raises(ValueError, match="must have 8 channels"):
        ie.to_geometric_tensor(torch.randn(1, 7, 5, 5), t)
    with pytest.raises(ValueError, match="batched tensor"):
        ie.to_geometric_tensor(torch.randn(8, 5, 5), t)
    with pytest.raises(TypeError, match="GeometricTensor"):
        ie.from_geometric_tensor(torch.randn(1, 8, 5, 5))
    with pytest.raises(TypeError, match="eqcnn or escnn field type"):
        ie.to_geometric_tensor(torch.randn(1, 8, 5, 5), "regular")


def test_type_errors():
    from escnn import gspaces
    from escnn import nn as enn

    with pytest.raises(TypeError, match="eqcnn FieldType"):
        ie.to_escnn_type("C4")
    # the two FieldTypes are told apart, and the message names the converter for the other way
    G4 = eqcnn.Cyclic(4)
    with pytest.raises(TypeError, match=r"got escnn FieldType \(from_escnn_type converts escnn types\)"):
        ie.to_escnn_type(ie.to_escnn_type(G4.regular(2)))
    with pytest.raises(TypeError, match=r"got eqcnn FieldType \(to_escnn_type converts eqcnn types\)"):
        ie.from_escnn_type(G4.regular(2))
    o2_tilted = gspaces.flipRot2dOnR2(-1, axis=0.0)  # O(2) with another mirror axis than eqcnn's
    with pytest.raises(ValueError, match="has no eqcnn group"):
        ie.from_escnn_type(enn.FieldType(o2_tilted, [o2_tilted.irrep(1, 1)]))
    tilted = gspaces.flipRot2dOnR2(4, axis=0.0)
    with pytest.raises(ValueError, match="has no eqcnn group"):
        ie.from_escnn_type(enn.FieldType(tilted, [tilted.regular_repr]))
    G = eqcnn.Cyclic(4)
    odd = eqcnn.Representation(G, "mine", G.regular_representation.matrices)
    with pytest.raises(ValueError, match="has no escnn counterpart"):
        ie.to_escnn_type(eqcnn.FieldType(G, [odd]))


def test_other_escnn_representations_round_trip():
    from escnn import gspaces
    from escnn import nn as enn

    gs = gspaces.rot2dOnR2(8)
    et = enn.FieldType(gs, [gs.quotient_repr(2), gs.regular_repr])
    t = ie.from_escnn_type(et)
    assert t.representations[0].name == "escnn:quotient[2]"
    assert t.representations[1] == eqcnn.Cyclic(8).regular_representation
    assert ie.to_escnn_type(t) == et
