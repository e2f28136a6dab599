"""The octahedral groups of space: axioms, irreps, voxel moves, subgroups and the voxel basis."""

from __future__ import annotations

import copy
import itertools
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import eqcnn
from eqcnn.fields import move_voxels
from eqcnn.kernels import kernel_basis
from eqcnn.kernels._voxel import induced_index, voxel_filters, voxel_images
from eqcnn.testing import strategies as est

O, OH = eqcnn.Octahedral(), eqcnn.FullOctahedral()
GROUPS = [O, OH]
IDS = ["O", "Oh"]


@pytest.mark.parametrize("G", GROUPS, ids=IDS)
def test_elements_are_the_signed_permutations_of_the_axes(G):
    mats = np.stack([g.matrix() for g in G.elements])
    assert mats.shape == (G.order, 3, 3) and G.order == (48 if G.has_reflections else 24)
    assert np.all(np.isin(mats, (-1, 0, 1))) and np.all(np.abs(mats).sum(axis=1) == 1)
    assert len({m.tobytes() for m in mats}) == G.order
    dets = np.round(np.linalg.det(mats)).astype(int)
    assert np.all(dets[:24] == 1) and np.all(dets[24:] == -1)
    assert np.array_equal(mats[0], np.eye(3))
    if G.has_reflections:  # rotation k times the inversion is element 24 + k
        np.testing.assert_array_equal(mats[24:], -mats[:24])
        assert G.inversion.matrix().tolist() == (-np.eye(3)).tolist()


@pytest.mark.parametrize("G", GROUPS, ids=IDS)
def test_group_axioms_and_matrix_action(G):
    e = G.identity
    for a in G.elements:
        assert a @ e == a == e @ a
        assert a @ a.inverse() == e
        for b in G.elements:
            np.testing.assert_array_equal((a @ b).matrix(), a.matrix() @ b.matrix())
    for a, b, c in itertools.islice(itertools.product(G.elements, repeat=3), 0, None, 97):
        assert (a @ b) @ c == a @ (b @ c)
    # the generators generate
    seen, frontier = {e}, [e]
    while frontier:
        frontier = [g @ a for a in frontier for g in G.generators if g @ a not in seen]
        seen.update(frontier)
    assert len(seen) == G.order


@pytest.mark.parametrize("G", GROUPS, ids=IDS)
def test_irreps_are_orthogonal_irreducible_inequivalent_and_complete(G):
    irreps = G.irreps()
    assert irreps[0].name == "trivial"
    assert sum(r.size**2 for r in irreps) == G.order
    chars = np.array([[np.trace(r(g)) for g in G.elements] for r in irreps])
    np.testing.assert_allclose(chars @ chars.T / G.order, np.eye(len(irreps)), atol=1e-12)
    for r in [*irreps, G.regular_representation]:
        for a in G.elements:
            np.testing.assert_allclose(r(a) @ r(a).T, np.eye(r.size), atol=1e-12)
            for b in G.elements[::5]:
                np.testing.assert_allclose(r(a @ b), r(a) @ r(b), atol=1e-12)


def test_the_vector_irreps_are_the_matrices():
    for g in O.elements:
        np.testing.assert_array_equal(O.irrep("T1")(g), g.matrix())
    for g in OH.elements:
        np.testing.assert_array_equal(OH.irrep("T1u")(g), g.matrix())
        np.testing.assert_array_equal(OH.irrep("T1g")(g), g.matrix() * np.linalg.det(g.matrix()))


@pytest.mark.parametrize("G", GROUPS, ids=IDS)
def test_pickle_equality_and_repr(G):
    assert pickle.loads(pickle.dumps(G)) == G and hash(pickle.loads(pickle.dumps(G))) == hash(G)
    assert eqcnn.Cyclic(24) != G and eqcnn.Dihedral(24) != G and O != OH
    assert copy.deepcopy(G.regular(2)) == G.regular(2)
    assert eval(repr(G.regular(2) + G.irreps_field(G.irrep_names()[3])), vars(eqcnn)) == G.regular(2) + G.irreps_field(
        G.irrep_names()[3]
    )
    g = G.elements[5]
    assert pickle.loads(pickle.dumps(g)) == g


def test_bad_input_names_the_argument_and_the_choices():
    with pytest.raises(ValueError, match=r"irreps of Octahedral\(\) are irrep\(name\) with name in \['A1', 'A2'"):
        O.irrep("T1u")
    with pytest.raises(ValueError, match=r"`matrix` must be a signed permutation matrix of Octahedral\(\)"):
        O.element_from_matrix(-np.eye(3))
    with pytest.raises(ValueError, match=r"`matrix` must have shape \(3, 3\), got \(2, 2\)"):
        O.element_from_matrix(np.eye(2))
    with pytest.raises(ValueError, match=r"has an axis as well as an angle"):
        O.rotation_by(90)
    with pytest.raises(ValueError, match=r"use \.matrix\(\), not \.angle"):
        _ = O.elements[1].angle
    with pytest.raises(ValueError, match=r"Octahedral\(\) has no inversion"):
        _ = O.inversion
    with pytest.raises(ValueError, match="needs a group with the inversion"):
        O.element(1, reflection=True)


def _brute_move(x: torch.Tensor, m: np.ndarray) -> torch.Tensor:
    """``out[p] = x[m^T p]`` voxel by voxel (centred coordinates)."""
    out = torch.empty_like(x)
    D, H, W = x.shape[-3:]
    c = np.array([(D - 1) / 2, (H - 1) / 2, (W - 1) / 2])
    for p in itertools.product(range(D), range(H), range(W)):
        q = np.rint(m.T @ (np.array(p) - c) + c).astype(int)
        out[(..., *p)] = x[(..., *q)]
    return out


@pytest.mark.parametrize("n", [4, 5])
def test_move_voxels_is_the_action_on_centred_coordinates(n):
    x = torch.randn(2, 3, n, n, n)
    for g in OH.elements:
        m = g.matrix().astype(int)
        assert torch.equal(move_voxels(x, m), _brute_move(x, m))
    a, b = OH.elements[7], OH.elements[30]
    assert torch.equal(
        move_voxels(move_voxels(x, b.matrix().astype(int)), a.matrix().astype(int)),
        move_voxels(x, (a @ b).matrix().astype(int)),
    )


def test_move_voxels_needs_a_cube_only_when_axes_are_exchanged():
    x = torch.randn(1, 1, 3, 4, 5)
    flip = OH.element_from_matrix(np.diag([-1, -1, 1]))
    assert torch.equal(move_voxels(x, flip.matrix().astype(int)), x.flip(-3, -2))
    swap = OH.element_from_matrix([[0, 1, 0], [1, 0, 0], [0, 0, -1]])
    with pytest.raises(ValueError, match=r"needs a cube, got spatial shape \(3, 4, 5\)"):
        move_voxels(x, swap.matrix().astype(int))
    with pytest.raises(ValueError, match="must be a 3x3 signed permutation matrix"):
        move_voxels(x, np.eye(3) * 2)


@given(G=est.groups(families=("octahedral", "full_octahedral")), data=st.data())
def test_field_transform_is_a_group_action_on_volumes(G, data):
    t = data.draw(est.field_types(G, kinds=("trivial", "regular", "irrep", "quotient"), max_fields=3))
    x = torch.randn(2, t.size, 4, 4, 4, dtype=torch.float64)
    a, b = data.draw(st.sampled_from(G.elements)), data.draw(st.sampled_from(G.elements))
    torch.testing.assert_close(t.transform(t.transform(x, b), a), t.transform(x, a @ b), rtol=0, atol=1e-12)
    assert torch.equal(t.transform(x, G.identity), x)
    # unbatched (C, D, H, W) as the batch of one
    torch.testing.assert_close(t.transform(x[0], a), t.transform(x, a)[0], rtol=0, atol=1e-12)


def test_field_types_of_volumes_refuse_images():
    t = O.regular(1)
    with pytest.raises(ValueError, match=r"input must have shape \(B, C, D, H, W\) or \(C, D, H, W\) with C=24"):
        t.transform(torch.randn(24, 5, 5), O.elements[1])
    with pytest.raises(ValueError, match=r"got 1 \(shape \(1, 24, 5, 5\) read as unbatched \(C, D, H, W\)\)"):
        t.transform(torch.randn(1, 24, 5, 5), O.elements[1])
    with pytest.raises(ValueError, match=r"must be an element of Octahedral\(\)"):
        t.transform(torch.randn(1, 24, 5, 5, 5), eqcnn.Cyclic(4).elements[1])


def test_subgroups_of_the_full_group():
    assert OH.is_subgroup(O) and OH.is_subgroup(eqcnn.Trivial()) and not O.is_subgroup(OH)
    assert not OH.is_subgroup(eqcnn.Cyclic(4)) and not eqcnn.Dihedral(4).is_subgroup(O)
    assert OH.embed(O.elements[5]) == OH.elements[5]
    parity = OH.quotient_representation(O)
    assert parity.size == 2 and np.array_equal(parity(OH.inversion), [[0, 1], [1, 0]])
    assert OH.regular(1).restrict(O) == O.regular(2)
    assert OH.irreps_field("T1u").restrict(O) == O.irreps_field("T1")
    assert (OH.irreps_field("Eg") + OH.irreps_field("A2u")).restrict(O) == O.irreps_field("E") + O.irreps_field("A2")
    with pytest.raises(ValueError, match="groups of space and of the plane do not mix"):
        OH.regular(1).restrict(eqcnn.Cyclic(4))


REPS = [(O, "trivial"), (O, "regular"), (O, "E"), (O, "T1"), (O, "T2"), (OH, "regular"), (OH, "T1u"), (OH, "A2g")]


def _rep(G, name):
    return {"trivial": G.trivial_representation, "regular": G.regular_representation}.get(name) or G.irrep(name)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize(("G", "a"), REPS, ids=[f"{g!r}-{a}" for g, a in REPS])
def test_voxel_basis_solves_the_constraint_exactly_and_is_orthonormal(G, a, k):
    rep_in = _rep(G, a)
    for rep_out in (G.trivial_representation, G.irreps()[3], G.irreps()[2]):
        basis = kernel_basis(rep_in, rep_out, k)
        if basis.dim == 0:
            continue
        f = basis.filters.reshape(basis.dim, rep_out.size, rep_in.size, k**3)
        images = voxel_images(G, k)
        for g in G.elements:
            lhs = f[:, :, :, images[g.index]]  # K(g p), at p
            rhs = np.einsum("ij,njkp,lk->nilp", rep_out(g), f, rep_in(g))
            np.testing.assert_allclose(lhs, rhs, atol=1e-12)
        flat = f.reshape(basis.dim, -1)
        np.testing.assert_allclose(flat @ flat.T, np.eye(basis.dim), atol=1e-12)
        # the dimension is the number of invariants of the (voxel x out x in) representation
        perm = np.zeros((G.order, k**3, k**3))
        for g in G.elements:
            perm[g.index, images[g.index], np.arange(k**3)] = 1
        chi = [np.trace(perm[i]) * np.trace(rep_out.matrices[i]) * np.trace(rep_in.matrices[i]) for i in range(G.order)]
        assert basis.dim == round(np.mean(chi))


def test_voxel_basis_is_deterministic_and_odd_only():
    R = O.regular_representation
    first = voxel_filters(R, O.irrep("T1"), 3)
    again = voxel_filters(R, O.irrep("T1"), 3)
    assert np.array_equal(first, again)
    with pytest.raises(ValueError, match="`kernel_size` must be odd"):
        voxel_filters(R, R, 2)
    with pytest.raises(ValueError, match=r"`kind` \(='harmonic'\) must be 'pixel'"):
        kernel_basis(R, R, 3, "harmonic")


@pytest.mark.parametrize("G", GROUPS, ids=IDS)
@pytest.mark.parametrize("rep", ["trivial", "regular"])
def test_a_free_first_row_gathered_into_a_regular_field_is_the_whole_solution_space(G, rep):
    """The induced form: every row gives an equivariant filter, and they span the dense basis' space."""
    rep_in, k = _rep(G, rep), 3
    index = induced_index(rep_in, k)  # (order, d_in, k^3)
    rows = np.random.default_rng(0).standard_normal((rep_in.size * k**3,))
    filt = rows[index]  # (order, d_in, k^3): K[h, d](q)
    images = voxel_images(G, k)
    R = G.regular_representation
    for g in G.elements:
        rhs = np.einsum("ij,jkp,lk->ilp", R(g), filt, rep_in(g))  # rho_out(g) K(p) rho_in(g)^T
        np.testing.assert_allclose(filt[:, :, images[g.index]], rhs, atol=0)
    # the span: dim d_in k^3, as the character count of the constraint says
    chi = [
        np.trace(R.matrices[i]) * np.trace(rep_in.matrices[i]) * np.sum(images[i] == np.arange(k**3))
        for i in range(G.order)
    ]
    assert round(np.mean(chi)) == rep_in.size * k**3
