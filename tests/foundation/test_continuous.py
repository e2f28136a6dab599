"""SO(2) and O(2): elements at any angle, band-limited representations, kernels, layers and the harness."""

import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import eqcnn
from eqcnn import O2, SO2, Cyclic, Dihedral
from eqcnn import nn as enn
from eqcnn.kernels import kernel_basis
from eqcnn.testing import equivariance_report, tolerance

GROUPS = [SO2(1), SO2(3), O2(2), SO2(2, samples=12)]
groups = st.sampled_from(GROUPS)
angles = st.floats(0, 360, allow_nan=False)


@given(groups, angles, angles, st.booleans(), st.booleans())
def test_elements_at_any_angle_compose_like_their_matrices(G, a, b, fa, fb):
    ga = G.element_at(a, fa and G.has_reflections)
    gb = G.element_at(b, fb and G.has_reflections)
    assert np.allclose((ga @ gb).matrix(), ga.matrix() @ gb.matrix(), atol=1e-9)
    assert np.allclose((ga @ ga.inverse()).matrix(), np.eye(2), atol=1e-9)


@given(groups, angles, angles, st.booleans())
def test_representations_are_homomorphisms_at_any_angle(G, a, b, f):
    ga, gb = G.element_at(a, f and G.has_reflections), G.rotation_by(b)
    for rep in [*G.irreps(), G.bl_regular_representation]:
        assert np.allclose(rep(ga @ gb), rep(ga) @ rep(gb), atol=1e-9)
        assert np.allclose(rep(ga) @ rep(ga).T, np.eye(rep.size), atol=1e-12)


def test_the_sample_holds_the_quarter_turns_and_is_exact_there():
    G = SO2(3)
    assert G.order == 8 and G.rotation_by(90).on_sample and G.rotation_by(90).index == 2
    assert not G.rotation_by(30).on_sample and G.rotation_by(30).is_grid_symmetry is False
    assert G.irrep(1)(G.rotation_by(90)).tolist() == [[0.0, -1.0], [1.0, 0.0]]
    assert O2(3).bl_regular(1).size == 14 and SO2(3).bl_regular(1).size == 7
    assert O2(3).order == 16


def test_continuous_groups_print_compare_and_pickle():
    assert repr(SO2(3)) == "SO2(max_frequency=3)" and repr(O2(1, samples=12)) == "O2(max_frequency=1, samples=12)"
    assert SO2(3) == SO2(3) and SO2(3) != SO2(2) and SO2(3) != Cyclic(8) and O2(3) != SO2(3)
    t = SO2(3).bl_regular(2) + SO2(3).irreps_field(2)
    assert repr(t) == "SO2(max_frequency=3).bl_regular(2) + SO2(max_frequency=3).irreps_field(2)"
    assert pickle.loads(pickle.dumps(t)) == t
    assert pickle.loads(pickle.dumps(O2(2).bl_regular_representation)) == O2(2).bl_regular_representation


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: SO2(3).regular(2), ValueError, r"SO2\(max_frequency=3\) has no regular fields .*\.bl_regular\(2\)"),
        (lambda: SO2(3).irrep(4), ValueError, r"irrep\(k\) with 0 <= k <= max_frequency \(=3\); got irrep\(4,\)"),
        (lambda: O2(2).irrep(0, 1), ValueError, r"irrep\(1, k\) with 1 <= k <= max_frequency \(=2\)"),
        (lambda: SO2(3, samples=6), ValueError, r"`samples` must be a multiple of 4 above 2 \* max_frequency"),
        (lambda: SO2(-1), ValueError, r"`max_frequency`"),
        (lambda: SO2(3).element_at(10, True), ValueError, r"`reflection` \(=True\) needs a group with reflections"),
        (lambda: SO2(3).regular(1).restrict(Cyclic(4)), ValueError, r"has no regular fields"),
        (lambda: SO2(3).bl_regular(1).restrict(Dihedral(4)), ValueError, r"Dihedral\(4\) has reflections"),
        (lambda: SO2(3).quotient(Cyclic(2)), ValueError, r"quotient representations of SO2"),
    ],
)
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_layer_types_of_another_band_limit_are_refused():
    with pytest.raises(
        ValueError, match=r"must have the same group, got SO2\(max_frequency=3\) and SO2\(max_frequency=2\)"
    ):
        enn.Conv2d(SO2(3).trivial(1), SO2(2).bl_regular(1), 5)


@pytest.mark.parametrize("G", GROUPS[:3], ids=repr)
def test_kernel_bases_are_equivariant_at_any_angle(G):
    # K(g p) = rho_out(g) K(p) rho_in(g)^-1 on the continuous harmonics: the spatial action is exact
    reps = [G.trivial_representation, G.bl_regular_representation, G.irreps()[-1]]
    for a in reps:
        for b in reps:
            basis = kernel_basis(a, b, 7)
            assert basis.dim > 0
            for deg in (17.0, 90.0, 203.5):
                g = G.element_at(deg, G.has_reflections and deg > 100)
                T = basis.spatial_action(g.inverse())  # spatial[s](g p) = sum_t T[s, t] spatial[t](p)
                moved = np.einsum("noiS,ST->noiT", basis.coefficients, T)
                want = np.einsum("ab,nbcS,cd->nadS", b(g), basis.coefficients, a(g).T)
                assert np.allclose(moved, want, atol=1e-9), (a, b, deg)


@pytest.mark.parametrize("G", [SO2(3), O2(2)], ids=repr)
def test_a_continuous_network_is_exact_on_quarter_turns_and_close_between(G):
    t = G.bl_regular(2)
    model = enn.Sequential(
        enn.Conv2d(G.trivial(1), t, 7, padding=3),
        enn.FourierELU(t),
        enn.Conv2d(t, t + G.trivial(1), 5, padding=2),
        enn.NormNonlinearity(t + G.trivial(1)),
    )
    report = equivariance_report(model, size=33, angles=[30, 45, 100])
    assert report.passed
    rows = {r.transform: r for r in report.rows}
    assert rows["rot 90 deg"].rel_l2 < tolerance(torch.float32)
    assert rows["rot 30 deg"].rel_l2 < 0.1 and rows["rot 30 deg"].kind == "approx"
    plain = model.export()
    x = torch.randn(2, 1, 33, 33)
    assert torch.allclose(plain(x), model(x), atol=1e-5)


def test_the_harness_catches_a_plain_conv_declared_so2():
    G = SO2(2)
    conv = torch.nn.Conv2d(1, G.bl_regular(1).size, 5, padding=2)
    report = equivariance_report(conv, size=33, in_type=G.trivial(1), out_type=G.bl_regular(1))
    assert not report.passed


@pytest.mark.parametrize(("G", "H"), [(SO2(3), Cyclic(8)), (SO2(3), Cyclic(6)), (O2(2), Dihedral(4)), (O2(2), SO2(2)),
                                      (O2(2), Cyclic(4))], ids=repr)  # fmt: skip
def test_restriction_to_finite_subgroups(G, H):
    t = G.bl_regular(2) + eqcnn.FieldType(G, [G.irreps()[-1]])
    r = enn.Restrict(t, H)
    assert r.out_type.group == H and r.out_type.size == t.size
    assert all(rep.components is not None or rep.is_trivial for rep in r.out_type.representations)
    x = torch.randn(t.size, dtype=torch.float64)
    for h in H.elements:
        lhs = r((torch.as_tensor(t.fibre_matrix(G.embed(h))) @ x)[:, None, None])[:, 0, 0]
        rhs = torch.as_tensor(r.out_type.fibre_matrix(h)) @ r(x[:, None, None])[:, 0, 0]
        assert torch.allclose(lhs, rhs, atol=1e-12), h


def _last(G):
    return G.irreps()[-1].name[len("irrep(") : -1]


def test_restricted_so2_model_checked_under_c8():
    G, H = SO2(3), Cyclic(8)
    t = G.bl_regular(2)
    model = enn.Sequential(
        enn.Conv2d(G.trivial(1), t, 5, padding=2),
        enn.FourierELU(t),
        enn.Restrict(t, H),
    )
    assert equivariance_report(model, size=17).passed


def test_fourier_pointwise_refuses_bad_fields_and_samples():
    with pytest.raises(ValueError, match=r"`N` \(=6\) must be at least 2 \* max_frequency \+ 1 \(=7\)"):
        enn.FourierPointwise(SO2(3).bl_regular(1), N=6)
    with pytest.raises(ValueError, match=r"`N` is for SO2 / O2 only"):
        enn.FourierPointwise(Cyclic(8).irreps_field(1), N=8)
    with pytest.raises(ValueError, match=r"is not a known direct sum of irreps"):
        enn.FourierPointwise(Cyclic(8).regular(1))
    with pytest.raises(ValueError, match=r"`function` must be one of"):
        enn.FourierPointwise(SO2(1).bl_regular(1), "softplus")


@pytest.mark.parametrize("N", [None, 24])
def test_fourier_layers_on_the_same_fields_share_one_sampling(N):
    # the sampling matrices are cached per (representation, N): equal to a fresh computation, read-only,
    # and a second layer (or another multiplicity of the fields) gets the same arrays
    from eqcnn.nn._fourier import _grid, _shared_sampling, fourier_sampling

    G = O2(2)
    rep = G.bl_regular_representation
    fresh = fourier_sampling(rep, _grid(G, N))
    shared = _shared_sampling(rep, N)
    for a, b in zip(shared, fresh):
        np.testing.assert_array_equal(a, b)
        assert not a.flags.writeable
    assert _shared_sampling(rep, N)[0] is shared[0]
    one, two = enn.FourierELU(G.bl_regular(2), N=N), enn.FourierELU(G.bl_regular(5), N=N)
    torch.testing.assert_close(one._plain.samplers, two._plain.samplers)
    assert one._plain.samplers.numel() == fresh[0].size


def test_fourier_error_falls_with_the_samples():
    # the aliasing of the function's harmonics between grid angles (benchmarks/fourier_sampling.py tabulates it)
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[2] / "benchmarks" / "fourier_sampling.py"
    spec = importlib.util.spec_from_file_location("fourier_sampling", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    errs = [mod.error(SO2(3), n, "elu", n_fields=16, n_angles=8) for n in (8, 16, 64)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3 and errs[0] > 1e-2


def test_norm_pool_is_invariant_and_typed():
    t = SO2(2).bl_regular(2) + SO2(2).irreps_field(1)
    pool = enn.NormPool(t)
    assert pool.out_type == SO2(2).trivial(3)
    x = torch.randn(1, t.size, 1, 1, dtype=torch.float64)
    g = SO2(2).rotation_by(33)
    moved = torch.as_tensor(t.fibre_matrix(g)) @ x[0, :, :, 0]
    assert torch.allclose(pool(moved[None, :, :, None]), pool(x), atol=1e-12)


@pytest.mark.parametrize("layer", [enn.Conv2d, enn.ConvTranspose2d])
def test_a_kernel_too_small_for_the_frequency_names_the_size_that_holds_it(layer):
    with pytest.raises(
        ValueError, match=r"too low angular frequencies .* the smallest kernel_size that holds one is 7"
    ):
        layer(SO2(3).trivial(1), SO2(3).irreps_field(3), 3)


def test_no_frequency_passes_the_constraint_by_a_near_resonance():
    # one radian alone: 710 radians is 6e-5 from a multiple of 2 pi, so a frequency-710 mismatch would pass
    # the null-space test; the second generator (sqrt(2) radians) rules it out
    G = SO2(1)
    gens = [g for g in G.generators if not g.reflection]
    j = np.arange(1, 10_001)
    worst = np.min(np.max([np.abs(2 * np.sin(j * g.angle / 2)) ** 2 for g in gens], axis=0))
    assert worst > 1e-3


def test_the_same_angle_reached_two_ways_is_one_element():
    G = SO2(3)
    x = G.rotation_by(10)
    assert G.rotation_by(30) == G.rotation_by(390) == x @ x @ x
    assert hash(G.rotation_by(30)) == hash(x @ x @ x) and x.inverse().inverse() == x
    assert len({G.rotation_by(30), G.rotation_by(390), x @ x @ x}) == 1
    from eqcnn.groups import GroupElement

    assert GroupElement(G, 2.0) == G.element(2) and GroupElement(G, 2.0).on_sample


def test_continuous_groups_are_refused_where_they_do_not_fit():
    from eqcnn.groups import quotient_representation
    from eqcnn.groups._subgroup import embedding
    from eqcnn.models import ResNet

    with pytest.raises(ValueError, match=r"quotient representations of SO2"):
        quotient_representation(SO2(3), Cyclic(3))
    with pytest.raises(ValueError, match=r"not of its sampled elements \(N=8\)"):
        embedding(SO2(3), Cyclic(3))
    assert SO2(3).embed(Cyclic(3).element(1)).angle == pytest.approx(2 * math.pi / 3)
    with pytest.raises(ValueError, match=r"ResNet builds regular fields, which a continuous group has not"):
        ResNet(SO2(2))
    with pytest.raises(ValueError, match=r"NormPool\(SO2\(max_frequency=3\)\.bl_regular\(n\)\)"):
        enn.GroupPool(SO2(3).trivial(2))
    with pytest.raises(ValueError, match=r"FourierPointwise / FourierELU for band-limited"):
        enn.ELU(SO2(3).bl_regular(1))
    with pytest.raises(ValueError, match=r"has every rotation: use basis='harmonic'"):
        enn.Conv2d(SO2(3).trivial(1), SO2(3).bl_regular(1), 3, basis="pixel")
