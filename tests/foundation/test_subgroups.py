"""Subgroups: embeddings, quotient representations, restriction and its decomposition into named fields."""

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eqcnn import Cyclic, Dihedral, Trivial
from eqcnn.groups import PointGroup, decompose, quotient_representation, restrict_representation
from eqcnn.groups._subgroup import _proper_subgroups


def _groups():
    return [Trivial(), *[Cyclic(n) for n in range(2, 13)], *[Dihedral(n) for n in range(1, 9)]]


def _subgroups(G: PointGroup) -> list[PointGroup]:
    return [Trivial(), *_proper_subgroups(G), G]


PAIRS = [(G, H) for G in _groups() for H in _subgroups(G)]
pairs = st.sampled_from(PAIRS)


def test_subgroup_table():
    assert Dihedral(8).is_subgroup(Cyclic(4)) and Dihedral(8).is_subgroup(Dihedral(2))
    assert Cyclic(8).is_subgroup(Trivial()) and Dihedral(3).is_subgroup(Dihedral(1))
    assert not Cyclic(8).is_subgroup(Cyclic(3))
    assert not Dihedral(4).is_subgroup(Cyclic(8))
    assert not Cyclic(8).is_subgroup(Dihedral(2))
    assert not Cyclic(8).is_subgroup("C4")


@given(pairs)
def test_embedding_is_an_injective_homomorphism_onto_the_same_transformations(pair):
    G, H = pair
    images = [G.embed(h) for h in H.elements]
    assert len(set(images)) == H.order
    for h, g in zip(H.elements, images):
        assert np.allclose(h.matrix(), g.matrix(), atol=1e-12)  # the same rotation / mirror of the plane
    for a in H.elements[:8]:
        for b in H.elements[:8]:
            assert G.embed(a @ b) == G.embed(a) @ G.embed(b)


@given(pairs)
def test_quotient_representation_permutes_cosets(pair):
    G, H = pair
    q = quotient_representation(G, H)
    assert q.size == G.order // H.order and q.is_permutation
    for a in G.elements:
        for b in G.elements[:6]:
            assert np.array_equal(q(a @ b), q(a) @ q(b))
    # the subgroup fixes the first coset (H itself): its channel 0
    for h in H.elements:
        assert q(G.embed(h))[0, 0] == 1
    if H.order == 1:
        assert q == G.regular_representation
    if H.order == G.order:
        assert q == G.trivial_representation


def test_quotient_fields_print_and_pickle():
    t = Cyclic(8).quotient(Cyclic(2), 3) + Cyclic(8).regular(1)
    assert repr(Cyclic(8).quotient(Cyclic(2), 3)) == "Cyclic(8).quotient(Cyclic(2), 3)"
    assert repr(Dihedral(4).quotient(Cyclic(4))) == "Dihedral(4).quotient(Cyclic(4))"
    assert pickle.loads(pickle.dumps(t)) == t
    assert Cyclic(8).quotient(Cyclic(2)).size == 4
    assert Dihedral(8).quotient(Cyclic(8)).size == 2 and Dihedral(8).quotient(Dihedral(1)).size == 8


def _named(H: PointGroup):
    reps = [H.trivial_representation, H.regular_representation, *H.irreps()]
    reps += [quotient_representation(H, K) for K in _proper_subgroups(H)]
    return reps


@given(pairs)
def test_restricted_representations_decompose_by_a_signed_permutation(pair):
    G, H = pair
    named = {r.name for r in _named(H)}
    for rep in _named(G):
        restricted = restrict_representation(rep, H)
        assert restricted.group == H and restricted.size == rep.size
        split = decompose(restricted)
        if split is None:
            # only quotients by a mirror subgroup whose axis class the subgroup does not hold fail to split
            assert rep.name.startswith("quotient(Dihedral"), (rep, H)
            continue
        P = np.zeros((rep.size, rep.size))
        P[np.arange(rep.size), split.perm] = split.signs
        for h, mats in zip(H.elements, restricted.matrices):
            blocks = np.zeros_like(mats)
            s = 0
            for part in split.parts:
                blocks[s : s + part.size, s : s + part.size] = part(h)
                s += part.size
            assert np.allclose(P @ mats @ P.T, blocks, atol=1e-12), (rep, H, h)
        assert all(p.name in named for p in split.parts)


def test_regular_and_irreps_always_decompose():
    for G, H in PAIRS:
        for rep in [G.regular_representation, *G.irreps()]:
            assert decompose(restrict_representation(rep, H)) is not None, (rep, H)


def test_field_type_restrict_keeps_the_channels():
    assert Dihedral(8).regular(2).restrict(Cyclic(8)) == Cyclic(8).regular(4)
    assert Dihedral(8).irreps_field(1, 3).restrict(Cyclic(8)) == Cyclic(8).irreps_field(3)
    assert Dihedral(8).trivial(3).restrict(Trivial()) == Trivial().trivial(3)
    # Cyclic(8) -> Cyclic(4) would reorder a regular field's channels: it keeps the restricted representation
    t = Cyclic(8).regular(1).restrict(Cyclic(4))
    assert t.size == 8 and t.representations[0].name == "restrict(Cyclic(8).regular, Cyclic(4))"
    out, perm, signs = Cyclic(8).regular(1)._restriction(Cyclic(4), reorder=True)
    assert out == Cyclic(4).regular(2) and perm.tolist() == [0, 2, 4, 6, 1, 3, 5, 7] and (signs == 1).all()


@pytest.mark.parametrize(
    ("group", "sub", "message"),
    [
        (Cyclic(8), Cyclic(3), r"`subgroup` \(=Cyclic\(3\)\) is not a subgroup of Cyclic\(8\): 3 does not divide 8"),
        (
            Dihedral(4),
            Cyclic(8),
            r"`subgroup` \(=Cyclic\(8\)\) is not a subgroup of Dihedral\(4\): 8 does not divide 4",
        ),
        (Cyclic(8), Dihedral(2), r"Dihedral\(2\) has reflections and Cyclic\(8\) has none"),
    ],
)
def test_not_a_subgroup_is_refused(group, sub, message):
    with pytest.raises(ValueError, match=message):
        group.regular(1).restrict(sub)
    with pytest.raises(ValueError, match=message):
        group.quotient(sub)


def test_a_non_group_subgroup_is_refused():
    with pytest.raises(TypeError, match=r"`subgroup` must be an eqcnn group .* got 'C4'"):
        Cyclic(8).regular(1).restrict("C4")
    with pytest.raises(TypeError, match=r"`h` must be a group element, got 3"):
        Cyclic(8).embed(3)


@pytest.mark.escnn
def test_quotient_characters_match_escnn():
    pytest.importorskip("escnn", exc_type=ImportError)
    from escnn import group as eg

    cases = [
        (Cyclic(8), Cyclic(2), lambda: eg.cyclic_group(8), 2),
        (Cyclic(6), Cyclic(3), lambda: eg.cyclic_group(6), 3),
        (Dihedral(4), Cyclic(4), lambda: eg.dihedral_group(4), (None, 4)),
        (Dihedral(6), Dihedral(1), lambda: eg.dihedral_group(6), (0, 1)),
        (Dihedral(8), Dihedral(2), lambda: eg.dihedral_group(8), (0, 2)),
    ]
    for G, H, make, sub_id in cases:
        theirs = make().quotient_representation(sub_id)
        mine = G.quotient_representation(H)
        assert theirs.size == mine.size
        for g in G.elements:
            e = make().element((int(g.reflection), g.rotation) if G.has_reflections else g.rotation)
            assert np.isclose(np.trace(theirs(e)), np.trace(mine(g)), atol=1e-9), (G, H, g)
