"""Group axioms and representation homomorphism for Trivial, Cyclic(N), Dihedral(N)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import eqcnn
from eqcnn.groups import PointGroup

groups = st.one_of(
    st.just(eqcnn.Trivial()),
    st.integers(1, 12).map(eqcnn.Cyclic),
    st.integers(1, 8).map(eqcnn.Dihedral),
)


@given(groups)
def test_group_axioms(G: PointGroup):
    els = G.elements
    assert len(els) == G.order == len(set(els))
    e = G.identity
    for a in els:
        assert a @ e == a == e @ a
        assert a @ a.inverse() == e == a.inverse() @ a
        for b in els:
            assert a @ b in els
    # associativity on a sample (all triples for small groups)
    for a in els[:6]:
        for b in els[:6]:
            for c in els[:6]:
                assert (a @ b) @ c == a @ (b @ c)


@given(groups)
def test_element_matrix_is_an_action(G: PointGroup):
    for a in G.elements:
        for b in G.elements:
            np.testing.assert_allclose((a @ b).matrix(), a.matrix() @ b.matrix(), atol=1e-12)


@given(groups)
def test_representations_are_orthogonal_homomorphisms(G: PointGroup):
    reps = [G.trivial_representation, G.regular_representation, *G.irreps()]
    for rep in reps:
        for a in G.elements:
            np.testing.assert_allclose(rep(a) @ rep(a).T, np.eye(rep.size), atol=1e-12)
            for b in G.elements:
                np.testing.assert_allclose(rep(a @ b), rep(a) @ rep(b), atol=1e-12)


@given(groups)
def test_irreps_are_irreducible_and_complete(G: PointGroup):
    irreps = G.irreps()

    def inner(a, b):
        return np.mean([np.trace(a(g)) * np.trace(b(g)) for g in G.elements])

    # Real irreps: distinct ones have orthogonal characters; <chi, chi> is 1 (real type)
    # or 2 (complex type: the 2-D rotation irreps of Cyclic(N)), and sum d^2 / <chi, chi> = |G|.
    norms = [inner(a, a) for a in irreps]
    for i, a in enumerate(irreps):
        assert norms[i] == pytest.approx(round(norms[i]), abs=1e-9) and round(norms[i]) in (1, 2)
        for j, b in enumerate(irreps):
            if i != j:
                assert inner(a, b) == pytest.approx(0.0, abs=1e-9)
    assert sum(r.size**2 / n for r, n in zip(irreps, norms)) == pytest.approx(G.order)


def test_element_properties():
    G = eqcnn.Dihedral(8)
    g = G.element(2, reflection=True)
    assert g.angle == pytest.approx(math.pi / 2)
    assert g.reflection is True
    assert g.quarter_turns == 1 and g.is_grid_symmetry
    assert G.element(1).quarter_turns is None
    assert G.rotation_by(135) == G.element(3)
    assert repr(g) == "Dihedral(8)[rot 90 deg, flip]"


def test_regular_representation_is_left_multiplication_in_element_order():
    G = eqcnn.Cyclic(4)
    r = G.regular_representation(G.element(1))
    # e_0 (identity) goes to e_1 (the rotation): the escnn convention
    assert r[1, 0] == 1 and r[:, 0].sum() == 1


def test_exact_matrices_at_quarter_turns():
    G = eqcnn.Cyclic(8)
    m = G.irrep(1)(G.element(2))
    assert m.tolist() == [[0.0, -1.0], [1.0, 0.0]]


def test_trivial_group():
    T = eqcnn.Trivial()
    assert T.order == 1 and eqcnn.Cyclic(1) == T and repr(T) == "Trivial()"
    assert T.regular(16).size == 16


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: eqcnn.Cyclic(0), r"`N` must be >= 1, got 0"),
        (lambda: eqcnn.Dihedral(-2), r"`N` must be >= 1, got -2"),
        (lambda: eqcnn.Cyclic(2.5), r"`N` must be an int, got float \(2.5\)"),
        (lambda: eqcnn.Cyclic(4).irrep(3), r"irreps of Cyclic\(4\) are irrep\(k\) with 0 <= k <= 2; got irrep\(3,\)"),
        (lambda: eqcnn.Dihedral(4).irrep(0, 1), r"irreps of Dihedral\(4\) are irrep\(0, 0\)"),
        (lambda: eqcnn.Cyclic(4).element(1, reflection=True), r"`reflection` \(=True\) needs a group with reflections"),
        (lambda: eqcnn.Cyclic(8).rotation_by(30), r"`degrees` \(=30\) must be a multiple of 45"),
        (
            lambda: eqcnn.Cyclic(4).compose(eqcnn.Cyclic(8).identity, eqcnn.Cyclic(4).identity),
            r"`a` must be an element of Cyclic\(4\)",
        ),
    ],
)
def test_group_errors(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()
