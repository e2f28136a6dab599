"""Kernel bases: the constraint holds on the sampled grid, orthonormal, deterministic, cached."""

import numpy as np
import pytest
import torch

import eqcnn
from eqcnn.fields import rotate_pixels
from eqcnn.kernels import kernel_basis

GRID_GROUPS = [
    eqcnn.Trivial(),
    eqcnn.Cyclic(2),
    eqcnn.Cyclic(4),
    eqcnn.Dihedral(1),
    eqcnn.Dihedral(2),
    eqcnn.Dihedral(4),
]
ALL_GROUPS = [*GRID_GROUPS, eqcnn.Cyclic(3), eqcnn.Cyclic(8), eqcnn.Cyclic(16), eqcnn.Dihedral(8)]


def rep_pairs(G):
    reps = [G.trivial_representation, G.regular_representation, *G.irreps()[1:]]
    return [(a, b) for a in reps for b in reps]


def constraint_residual(basis, g):
    """max |rho_out(g) K(g^-1 p) rho_in(g)^T - K(p)| over the sampled grid, for every basis filter."""
    f = torch.from_numpy(np.array(basis.filters))  # (n, d_out, d_in, k, k)
    moved = rotate_pixels(f, g.angle, g.reflection)  # K(g^-1 p)
    ro = torch.tensor(basis.rep_out(g))
    ri = torch.tensor(basis.rep_in(g))
    acted = torch.einsum("ab,nbcyx,dc->nadyx", ro, moved, ri)
    return (acted - f).abs().max().item() if f.numel() else 0.0


@pytest.mark.parametrize("G", ALL_GROUPS, ids=repr)
@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("kind", ["harmonic", "escnn"])
def test_harmonic_basis_satisfies_constraint_on_grid_elements(G, k, kind):
    for rin, rout in rep_pairs(G):
        b = kernel_basis(rin, rout, k, kind)
        for g in G.elements:
            if g.is_grid_symmetry:
                assert constraint_residual(b, g) < 1e-12, (rin, rout, g)


@pytest.mark.parametrize("G", GRID_GROUPS, ids=repr)
@pytest.mark.parametrize("k", [1, 3, 4, 5])
def test_pixel_basis_satisfies_constraint(G, k):
    if k % 2 == 0 and G.order > 1:
        pytest.skip("even filters only for the trivial group")
    for rin, rout in rep_pairs(G):
        b = kernel_basis(rin, rout, k, "pixel")
        for g in G.elements:
            assert constraint_residual(b, g) < 1e-12, (rin, rout, g)


@pytest.mark.parametrize("G", ALL_GROUPS, ids=repr)
def test_bases_are_orthonormal_and_deterministic(G):
    for rin, rout in rep_pairs(G)[:6]:
        for kind in ("harmonic", "escnn", "pixel") if G.is_grid_symmetric else ("harmonic", "escnn"):
            b = kernel_basis(rin, rout, 5, kind)
            flat = b.filters.reshape(b.dim, b.filters[0:1].size if b.dim else 0)
            np.testing.assert_allclose(flat @ flat.T, np.eye(b.dim), atol=1e-10)
            assert kernel_basis(rin, rout, 5, kind) is b  # cached and shared


def test_pixel_basis_is_complete_for_generic_pixels():
    # C4 regular -> regular, k=3: 2 generic orbits of 4 pixels (16 free entries each) + centre (4 intertwiners)
    G = eqcnn.Cyclic(4)
    b = kernel_basis(G.regular_representation, G.regular_representation, 3, "pixel")
    assert b.dim == 2 * 16 + 4


def test_trivial_group_pixel_basis_is_the_identity():
    T = eqcnn.Trivial()
    b = kernel_basis(T.trivial_representation, T.trivial_representation, 5)
    assert b.kind == "pixel" and b.dim == 25 and b.is_identity


def test_one_by_one_filters_are_the_intertwiners():
    G = eqcnn.Cyclic(8)
    assert kernel_basis(G.regular_representation, G.regular_representation, 1).dim == 8
    assert kernel_basis(G.trivial_representation, G.regular_representation, 1).dim == 1
    assert kernel_basis(G.trivial_representation, G.irrep(1), 1).dim == 0


def test_harmonic_dimensions_match_escnn_for_k5():
    # escnn 1.0.11 (rot2dOnR2, default R2Conv settings) gives 11 and 88 for C8 at k=5
    G = eqcnn.Cyclic(8)
    assert kernel_basis(G.trivial_representation, G.regular_representation, 5).dim == 11
    assert kernel_basis(G.regular_representation, G.regular_representation, 5).dim == 88


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: kernel_basis(
                eqcnn.Cyclic(8).trivial_representation, eqcnn.Cyclic(8).trivial_representation, 3, "pixel"
            ),
            r"the pixel basis needs a group whose elements map the pixel grid onto itself .* use basis='harmonic'",
        ),
        (
            lambda: kernel_basis(eqcnn.Cyclic(4).trivial_representation, eqcnn.Cyclic(8).trivial_representation, 3),
            r"`rep_in` is of Cyclic\(4\) but `rep_out` is of Cyclic\(8\)",
        ),
        (
            lambda: kernel_basis(
                eqcnn.Cyclic(4).trivial_representation, eqcnn.Cyclic(4).trivial_representation, 3, "fourier"
            ),
            r"`kind` must be one of 'auto', 'harmonic', 'pixel', 'escnn', 'lowpass'; got 'fourier'",
        ),
        (
            lambda: kernel_basis(eqcnn.Cyclic(4).trivial_representation, eqcnn.Cyclic(4).trivial_representation, 0),
            r"`kernel_size` must be >= 1, got 0",
        ),
    ],
)
def test_kernel_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bases_are_reproducible_golden_values():
    # Weights are stored against the basis: a basis that changed between versions or machines would
    # silently give a saved model other filters. These values are the basis as of eqcnn 0.1.
    G = eqcnn.Cyclic(8)
    b = kernel_basis(G.trivial_representation, G.regular_representation, 3)
    np.testing.assert_allclose(
        b.filters[1, 0, 0],
        [
            [-0.0902442158, -0.1312501229, -0.0902442158],
            [-0.1312501229, 0.1533543187, -0.1312501229],
            [-0.0902442158, -0.1312501229, -0.0902442158],
        ],
        atol=1e-9,
    )
    d4 = eqcnn.Dihedral(4)
    b = kernel_basis(d4.regular_representation, d4.regular_representation, 3)
    assert b.dim == 48
    assert float(np.abs(b.filters).sum()) == pytest.approx(303.17319482, abs=1e-6)


def test_orthonormalisation_is_continuous_in_rounding_noise():
    # Repeated eigenvalues must not let rounding (another BLAS, thread count) pick another basis.
    from eqcnn.kernels._harmonic import harmonic_factors
    from eqcnn.kernels._solve import null_space, orthonormal_coefficients

    G = eqcnn.Cyclic(8)
    spatial, blocks, _ = harmonic_factors(G.regular_representation, G.regular_representation, 3)
    raw = np.concatenate([np.einsum("joia,ayx->joiyx", c, spatial[s]) for c, s in blocks]).reshape(-1, 64 * 9)
    gram = raw @ raw.T
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(gram.shape) * 1e-15 * np.abs(gram).max()
    a = orthonormal_coefficients(gram) @ raw
    b = orthonormal_coefficients(gram + (noise + noise.T) / 2) @ raw
    assert np.abs(a - b).max() < 1e-8
    rot = G.regular_representation(G.element(1))
    cons = [np.kron(rot, rot) - np.eye(64)]
    noisy = [cons[0] + rng.standard_normal((64, 64)) * 1e-15]
    assert np.abs(null_space(cons, 64) - null_space(noisy, 64)).max() < 1e-8


def _reference_harmonic_basis(rep_in, rep_out, k):
    """The harmonic basis the plain way: dense raw filters, one Gram-Schmidt over all, signs on the dense filters."""
    from eqcnn.kernels._harmonic import harmonic_factors

    spatial, blocks, _ = harmonic_factors(rep_in, rep_out, k)
    raw = np.concatenate([np.einsum("joia,ayx->joiyx", c, spatial[s]) for c, s in blocks])
    flat = raw.reshape(len(raw), -1)
    gram = flat @ flat.T
    rows: list[np.ndarray] = []
    for i in range(len(gram)):  # one candidate at a time, projected out twice, dropped below 1e-6 of its norm
        r = np.eye(len(gram))[i]
        for _ in range(2):
            for t in rows:
                r = r - (t @ gram @ r) * t
        norm2 = r @ gram @ r
        if norm2 > 1e-12 * gram[i, i]:
            rows.append(r / np.sqrt(norm2))
    t = np.array(rows)
    e, v = np.linalg.eigh(t @ gram @ t.T)
    t = (v / np.sqrt(e)) @ v.T @ t
    filters = t @ flat
    mags = np.abs(filters)
    first = np.argmax(mags >= mags.max(axis=1, keepdims=True) * (1 - 1e-9), axis=1)
    signs = np.sign(filters[np.arange(len(filters)), first])
    mix = (signs[:, None] * t) @ gram / np.sqrt(np.diag(gram))[None, :]
    return (signs[:, None] * filters).reshape((-1, *raw.shape[1:])), mix


def _quotient(group, n):
    """The permutation representation of a cyclic group on its ``n`` cosets of a subgroup (not regular, not
    an irrep): its Gram matrices have rounding on one side of the diagonal and exact zeros on the other."""
    from eqcnn.groups import Representation

    mats = np.zeros((group.order, n, n))
    for g in group.elements:
        r = round(g.angle / (2 * np.pi / group.order)) % group.order
        for i in range(n):
            mats[g.index, (i + r) % n, i] = 1
    return Representation(group, f"quotient{n}", mats)


_C12 = eqcnn.Cyclic(12)


@pytest.mark.parametrize(
    "reps, k",
    [
        ((eqcnn.Cyclic(8).regular_representation, eqcnn.Cyclic(8).regular_representation), 5),
        ((eqcnn.Cyclic(4).trivial_representation, eqcnn.Cyclic(4).regular_representation), 3),
        # frequencies 0 and 4 meet in C4's trivial irrep: the Gram matrix couples them across frequency blocks
        ((eqcnn.Cyclic(4).regular_representation, eqcnn.Cyclic(4).regular_representation), 7),
        ((eqcnn.Cyclic(16).regular_representation, eqcnn.Cyclic(16).regular_representation), 3),
        ((eqcnn.Dihedral(4).regular_representation, eqcnn.Dihedral(4).regular_representation), 5),
        ((eqcnn.Dihedral(4).regular_representation, eqcnn.Dihedral(4).irreps()[-1]), 4),
        ((eqcnn.Dihedral(8).irreps()[-1], eqcnn.Dihedral(8).irreps()[-1]), 5),
        ((eqcnn.Cyclic(5).regular_representation, eqcnn.Cyclic(5).trivial_representation), 7),
        ((_C12.irreps()[3], _quotient(_C12, 6)), 3),
        ((_C12.irreps()[3], _quotient(_C12, 6)), 5),
    ],
)
@pytest.mark.parametrize("mixing", ["by frequency", "by component"])
def test_harmonic_basis_matches_the_plain_construction(reps, k, mixing, monkeypatch):
    # The basis is made from the factors, by a triangular inverse or Gram-Schmidt per component of the
    # Gram matrix, then mixed in one product per frequency (small groups) or one component at a time
    # from factors cut to their support (large ones), with signs read from each filter's nonzero
    # channels: either way it must be the basis of the plain dense construction, since weights are
    # stored against it.
    from eqcnn.kernels import _harmonic
    from eqcnn.kernels._basis import _cached_basis

    monkeypatch.setattr(_harmonic, "_DENSE_MIX", 1 << 62 if mixing == "by frequency" else 0)
    _cached_basis.cache_clear()  # (kernel_basis below: made on this path, not read from the cache)
    h = _harmonic.harmonic_basis(*reps, k)
    filters, mix = _reference_harmonic_basis(*reps, k)
    got = np.einsum("jois,syx->joiyx", h.coefficients, h.spatial)
    assert got.shape == filters.shape
    np.testing.assert_allclose(got, filters, atol=1e-12)
    np.testing.assert_allclose(h.init_mix, mix, atol=1e-12)
    np.testing.assert_allclose(kernel_basis(*reps, k, "harmonic").filters, filters, atol=1e-12)


@pytest.mark.parametrize(
    "G, pair",
    [
        (eqcnn.Cyclic(4), ("trivial", "regular")),
        (eqcnn.Cyclic(8), ("regular", "regular")),
        (eqcnn.Dihedral(4), ("regular", "regular")),
        (eqcnn.Dihedral(3), ("regular", "trivial")),
        (_C12, ("quotient", "regular")),
    ],
    ids=repr,
)
def test_permutation_solutions_are_the_generic_null_space(G, pair):
    # solutions carried along orbits of channel pairs: orthonormal, and the same space as the null space
    # of the constraint on the generators, at every frequency (each stabiliser fixing its own part)
    from eqcnn.kernels._harmonic import _permutation_solutions, harmonic_action
    from eqcnn.kernels._solve import null_space

    named = {"trivial": G.trivial_representation, "regular": G.regular_representation}
    rep_in, rep_out = (_quotient(G, 6) if n == "quotient" else named[n] for n in pair)
    assert rep_in.is_permutation and rep_out.is_permutation
    for m in range(4):
        a = 1 if m == 0 else 2
        sols = _permutation_solutions(rep_in, rep_out, m).reshape(-1, rep_out.size * rep_in.size * a)
        cons = [
            np.kron(np.kron(rep_out(g), rep_in(g)), np.eye(a))
            - np.kron(np.eye(rep_out.size * rep_in.size), harmonic_action(m, g).T)
            for g in G.generators
        ]
        generic = null_space(cons, sols.shape[1])
        assert len(sols) == len(generic) > 0, m
        np.testing.assert_allclose(sols @ sols.T, np.eye(len(sols)), atol=1e-12)
        np.testing.assert_allclose(sols.T @ sols, generic.T @ generic, atol=1e-12)


def _direct_sum_cases():
    from eqcnn.groups._representation import direct_sum

    cases = []
    for G in (eqcnn.SO2(3), eqcnn.O2(2), eqcnn.Cyclic(8), eqcnn.Dihedral(4)):
        irreps = G.irreps()
        reps = [G.trivial_representation, irreps[1], direct_sum([irreps[-1], irreps[0], irreps[1]], "mixed")]
        if G.is_continuous:
            reps.append(G.bl_regular_representation)
        cases += [
            (G, r_in, r_out) for r_in in reps for r_out in reps if len(r_in.components) + len(r_out.components) > 2
        ]
    return cases


def _whole_null_space(G, rep_in, rep_out, m):
    """The constraint's null space over all of ``rep_out (x) rep_in (x) harmonic m`` at once, by the general
    route (eigenvectors, the projector, the general Gram-Schmidt): the reference for the solver's shortcuts."""
    from eqcnn.kernels._harmonic import harmonic_action
    from eqcnn.kernels._solve import _gram_schmidt

    a = 1 if m == 0 else 2
    pairs = rep_out.size * rep_in.size
    cons = [
        np.kron(np.kron(rep_out(g), rep_in(g)), np.eye(a)) - np.kron(np.eye(pairs), harmonic_action(m, g).T)
        for g in G.generators
    ]
    evals, evecs = np.linalg.eigh(sum(c.T @ c for c in cons))
    v = evecs[:, evals < 1e-8 * max(1.0, float(evals[-1]))]
    projector = v @ v.T
    projector[np.abs(projector) < 1e-14] = 0.0
    return _gram_schmidt(np.eye(pairs * a), projector, 1e-8)[0]


@pytest.mark.parametrize("G, rep_in, rep_out", _direct_sum_cases(), ids=repr)
def test_direct_sums_are_solved_block_by_block_as_the_whole_null_space(G, rep_in, rep_out):
    # between known direct sums of irreps the constraint is block diagonal, so each pair of irreps is solved
    # alone and the rows are put in the whole null space's order: the same rows, not just the same span
    from eqcnn.kernels._harmonic import angular_solutions

    for m in range(4):
        whole = _whole_null_space(G, rep_in, rep_out, m)
        blocks = angular_solutions(rep_in, rep_out, m).reshape(-1, whole.shape[1])
        assert blocks.shape == whole.shape, m
        np.testing.assert_allclose(blocks, whole, atol=1e-12)


@pytest.mark.parametrize("G", [eqcnn.SO2(4), eqcnn.O2(4)], ids=repr)
def test_the_frequency_rule_skips_exactly_the_empty_null_spaces(G):
    # irreps k_in -> k_out couple only through harmonics m = |k_out - k_in| and k_out + k_in: the solver skips
    # the others, and the generic null space of each skipped pair is empty (and of each kept one, the same rows)
    from eqcnn.kernels._harmonic import _solutions_kept

    skipped = 0
    for rep_in in G.irreps():
        for rep_out in G.irreps():
            for m in range(10):
                whole = _whole_null_space(G, rep_in, rep_out, m)
                rows = _solutions_kept(rep_in, rep_out, m)[0].reshape(-1, whole.shape[1])
                assert rows.shape == whole.shape, (rep_in, rep_out, m)
                np.testing.assert_allclose(rows, whole, atol=1e-12)
                skipped += m not in (abs(rep_out.frequency - rep_in.frequency), rep_out.frequency + rep_in.frequency)
    assert skipped > 0.7 * len(G.irreps()) ** 2 * 10  # the rule did skip most pairs
    assert [r.frequency for r in G.irreps()] == ([0, 0, 1, 2, 3, 4] if G.has_reflections else [0, 1, 2, 3, 4])
    assert G.bl_regular(1).representations[0].frequency is None and eqcnn.Cyclic(4).irrep(1).frequency is None


def test_the_frequency_is_the_groups_record_not_the_name():
    # a hand-made representation named like an irrep is solved in full, not skipped on its name's word
    from eqcnn.groups import Representation
    from eqcnn.kernels._harmonic import angular_solutions

    G = eqcnn.SO2(3)
    real = G.irrep(1)
    fake = Representation(G, "irrep(2)", real.matrices, function=real.function)
    assert real.frequency == 1 and fake.frequency is None
    trivial = G.trivial(1).representations[0]
    assert trivial.frequency == 0
    assert angular_solutions(fake, trivial, 1).shape == angular_solutions(real, trivial, 1).shape == (2, 1, 2, 2)
    import pickle

    assert pickle.loads(pickle.dumps(G.irrep(3))).frequency == 3


@pytest.mark.parametrize("n", [1, 2, 7, 15, 16])
def test_the_small_gram_schmidt_is_the_general_one(n):
    # the fast path of small null spaces (Euclidean, <= 16 unknowns) keeps the same candidates, in the same
    # order, and gives the same rows as the general Gram-Schmidt
    from eqcnn.kernels._solve import _gram_schmidt, _gram_schmidt_small

    rng = np.random.default_rng(n)
    for trial in range(60):
        r = int(rng.integers(0, n + 1))
        v = np.linalg.qr(rng.standard_normal((n, n)))[0][:, :r]
        if trial % 3 == 0:  # coordinate subspaces: rows of zeros, exact zeros elsewhere
            v = np.eye(n)[:, rng.permutation(n)[:r]]
        projector = v @ v.T
        projector[np.abs(projector) < 1e-14] = 0.0
        rows, kept = _gram_schmidt(np.eye(n), projector, 1e-8)
        fast_rows, fast_kept = _gram_schmidt_small(projector, 1e-8)
        assert fast_rows.shape == rows.shape == (r, n) and fast_rows.dtype == rows.dtype
        assert fast_kept.tolist() == kept.tolist() and fast_kept.dtype == kept.dtype
        np.testing.assert_allclose(fast_rows, rows, atol=1e-12)


def test_orthonormal_components_are_read_from_both_triangles_of_the_gram_matrix():
    from eqcnn.kernels._solve import orthonormal_components

    # rounding on one side of the diagonal, an exact zero on the other: one component, not two overlapping
    t, components = orthonormal_components(np.array([[1.0, 0.0], [1e-30, 1.0]]))
    assert t.shape == (2, 2) and [idx.tolist() for idx, _ in components] == [[0, 1]]
    block = np.kron(np.eye(3), [[2.0, 1.0], [1.0, 2.0]])[np.ix_([0, 2, 4, 1, 3, 5], [0, 2, 4, 1, 3, 5])]
    t, components = orthonormal_components(block)  # three interleaved components of two
    assert sorted(idx.tolist() for idx, _ in components) == [[0, 3], [1, 4], [2, 5]]
    np.testing.assert_allclose(t @ block @ t.T, np.eye(6), atol=1e-14)
    # the same rows, in the same order, as on the whole matrix (1e-300 joins the components, changes nothing else)
    whole, one = orthonormal_components(block + 1e-300)
    assert len(one) == 1
    np.testing.assert_allclose(t, whole, atol=1e-14)


_BASES_SCRIPT = """
import sys, numpy as np, eqcnn
from eqcnn.kernels import kernel_basis
out = {}
for G, k in ((eqcnn.Cyclic(8), 5), (eqcnn.Cyclic(8), 7), (eqcnn.Dihedral(4), 5), (eqcnn.Dihedral(8), 5)):
    R = G.regular_representation
    b = kernel_basis(R, R, k, "harmonic")
    out[f"{G!r} k{k}"] = b.filters
    out[f"{G!r} k{k} mix"] = b.init_mix
np.savez(sys.argv[1], **out)
"""


def test_harmonic_bases_do_not_depend_on_the_blas_thread_count(tmp_path):
    # saved weights mean the same filter on every machine only if no basis filter can flip sign with the
    # rounding of the linear algebra (a "largest entry positive" rule did, for filters whose largest entries tie)
    import os
    import subprocess
    import sys

    results = []
    for threads in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        path = tmp_path / f"bases{threads}.npz"
        subprocess.run([sys.executable, "-c", _BASES_SCRIPT, str(path)], env=env, check=True, timeout=300)
        results.append(np.load(path))
    one, two = results
    assert set(one.files) == set(two.files) and len(one.files) == 8
    for name in one.files:
        np.testing.assert_allclose(one[name], two[name], rtol=0, atol=1e-9, err_msg=name)


def test_a_triangular_inverse_is_gram_schmidt_where_it_is_trusted():
    from eqcnn.kernels._solve import _by_cholesky, _gram_schmidt, orthonormal_components

    rng = np.random.default_rng(3)
    v = rng.standard_normal((5, 8))
    well = v @ v.T
    near = v.copy()
    near[4] = near[:4].sum(0) + 1e-4 * rng.standard_normal(8)  # keeps ~1e-9 of its norm: Gram-Schmidt's call
    dependent = v.copy()
    dependent[2] = dependent[0] - dependent[1]  # rank 4: Gram-Schmidt drops it
    # each vector keeps 0.1% of its squared norm off the one before: far from dropped, but badly conditioned
    chain = np.zeros((5, 8))
    chain[0, 0] = 1.0
    for i in range(1, 5):
        chain[i] = np.sqrt(0.999) * chain[i - 1] + np.sqrt(0.001) * np.eye(8)[i]
    assert np.linalg.cond(chain @ chain.T) > 1e4
    zero = v.copy()
    zero[1] = 0.0  # a vector that is zero on the grid
    grams = [well, near @ near.T, dependent @ dependent.T, chain @ chain.T, zero @ zero.T, well]
    tri, ok = _by_cholesky(np.stack(grams), 1e-6)
    assert ok.tolist() == [True, False, False, False, False, True]  # the others do not fail the good ones
    np.testing.assert_allclose(tri[0], _gram_schmidt(well, np.eye(5), 1e-12)[0], atol=1e-12)
    np.testing.assert_array_equal(tri[5], tri[0])
    # a vector Gram-Schmidt drops at a large rel_tol is not kept by the inverse either
    two = np.array([[1.0, 0.0], [1.0, 0.07]])  # the second keeps 4.9e-3 of its squared norm
    assert _by_cholesky((two @ two.T)[None], 1e-6)[1].tolist() == [True]
    assert _by_cholesky((two @ two.T)[None], 0.1)[1].tolist() == [False]
    assert orthonormal_components(two @ two.T, 0.1)[0].shape == (1, 2)
    # three components of one size, one of them singular, solved together: as each on its own
    blocks = [well, dependent @ dependent.T, well[::-1, ::-1]]
    whole = np.zeros((15, 15))
    for i, b in enumerate(blocks):
        whole[5 * i : 5 * i + 5, 5 * i : 5 * i + 5] = b
    t, components = orthonormal_components(whole)
    assert [len(rows) for _, rows in components] == [5, 4, 5]
    np.testing.assert_allclose(t @ whole @ t.T, np.eye(14), atol=1e-12)
    for (idx, rows), b in zip(components, blocks):
        alone, _ = orthonormal_components(b)
        np.testing.assert_allclose(t[np.ix_(rows, idx)], alone, atol=1e-12)


def test_signs_from_the_nonzero_parts_of_rows_are_the_signs_of_the_rows():
    from eqcnn.kernels._solve import canonical_signs, sparse_canonical_signs

    rng = np.random.default_rng(0)
    parts, width = 7, 4
    full = rng.choice([-1.0, 1.0], (40, parts, width)) * rng.choice([0.25, 0.5, 1.0], (40, parts, width))
    full *= 1.0 + 1e-15 * rng.standard_normal(full.shape)  # ties of both signs, in rounding
    full[rng.random((40, parts)) < 0.6] = 0.0  # most parts zero
    full[[0, 17, 39]] = 0.0  # and some rows entirely
    row, part = np.nonzero(np.any(full != 0, axis=2) | (rng.random((40, parts)) < 0.1))  # (and a few zero parts)
    assert not np.all(np.any(full[row, part] != 0, axis=1))
    got = sparse_canonical_signs(full[row, part], row, 40)
    np.testing.assert_array_equal(got, canonical_signs(full.reshape(40, -1)))
    assert (got == -1).any() and (got == 1).any() and len(np.unique(row)) < 40  # both signs, and zero rows
    assert sparse_canonical_signs(np.zeros((0, width)), np.zeros(0, dtype=np.int64), 3).tolist() == [1.0] * 3
    with pytest.raises(ValueError, match="`row_of` must be sorted"):
        sparse_canonical_signs(full[row, part], row[::-1].copy(), 40)


def test_canonical_signs_break_ties_by_position_not_by_rounding():
    from eqcnn.kernels._solve import canonical_signs

    row = np.array([[0.0, -0.5, 0.5, 0.25]])  # two largest entries of opposite signs: the first decides
    nudged = row * np.array([[1.0, 1.0, 1.0 + 1e-15, 1.0]])  # rounding makes the later one larger
    assert canonical_signs(row).tolist() == canonical_signs(nudged).tolist() == [-1.0]
    assert int(np.argmax(np.abs(nudged))) == 2  # (a plain argmax would follow the rounding)
    assert canonical_signs(np.array([[0.1, -0.7, 0.69]])).tolist() == [-1.0]  # no tie: the largest decides
    assert canonical_signs(np.zeros((1, 3))).tolist() == [1.0]


def test_a_basis_pickles_and_makes_its_filters_once():
    import pickle
    import threading

    R = eqcnn.Dihedral(4).regular_representation
    b = pickle.loads(pickle.dumps(kernel_basis(R, R, 5)))
    assert b._filters is None  # made on first use, not pickled
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(b.filters)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(f) for f in seen}) == 1
    np.testing.assert_array_equal(seen[0], kernel_basis(R, R, 5).filters)


def test_the_escnn_profile_is_escnns_default_rings():
    from eqcnn.kernels import ring_profile

    # escnn's R2Conv defaults (frequencies_cutoff=-1): a point at the centre, 0.6-wide rings, 0.4 on the
    # outer one, band limits 0 | 2r on odd and 2r-1 on even inner rings | min(2r, 2) on the outer one
    assert ring_profile(7, "escnn") == ([0.0, 1.0, 2.0, 3.0], [0.005, 0.6, 0.6, 0.4], [0, 2, 3, 2])
    assert ring_profile(5, "escnn") == ([0.0, 1.0, 2.0], [0.005, 0.6, 0.4], [0, 2, 2])
    assert ring_profile(7) == ([0.0, 1.0, 2.0, 3.0], [0.6, 0.6, 0.6, 0.4], [0, 2, 4, 2])
    with pytest.raises(ValueError, match=r"the 'escnn' ring profile needs an odd `kernel_size`, got 4"):
        ring_profile(4, "escnn")
    G = eqcnn.Cyclic(8)
    R = G.regular_representation
    # other rings, another space of the same size where escnn's sizes agree with eqcnn's (k=5)
    a, b = kernel_basis(R, R, 5, "harmonic"), kernel_basis(R, R, 5, "escnn")
    assert a.dim == b.dim == 88 and kernel_basis(R, R, 7, "escnn").dim == 144
    flat_a, flat_b = (x.filters.reshape(x.dim, -1) for x in (a, b))
    # 6% of the escnn basis lies outside the default one (measured 0.061): the two spans differ
    assert np.linalg.norm(flat_b - (flat_b @ flat_a.T) @ flat_a) / np.linalg.norm(flat_b) > 0.03


def test_an_unknown_ring_profile_is_refused():
    from eqcnn.kernels import ring_profile

    with pytest.raises(ValueError, match=r"`profile` must be one of 'eqcnn', 'escnn', 'lowpass'; got 'escn'"):
        ring_profile(5, "escn")
