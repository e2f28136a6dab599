"""The factored form of regular-output bases (one row turned by the group) and the layers' use of it."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import eqcnn
from eqcnn import nn as enn
from eqcnn.fields import rotate_pixels
from eqcnn.kernels import kernel_basis, regular_factors
from eqcnn.testing import strategies as es

GROUPS = [eqcnn.Cyclic(2), eqcnn.Cyclic(3), eqcnn.Cyclic(4), eqcnn.Cyclic(8), eqcnn.Cyclic(16)]
GROUPS += [eqcnn.Dihedral(1), eqcnn.Dihedral(2), eqcnn.Dihedral(4), eqcnn.Dihedral(8)]


def kinds(G):
    return ["harmonic", "escnn", "pixel"] if G.is_grid_symmetric else ["harmonic", "escnn"]


@pytest.mark.parametrize("G", GROUPS, ids=repr)
@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_factors_reproduce_the_dense_regular_basis(G, k):
    R = G.regular_representation
    for kind in kinds(G):
        basis = kernel_basis(R, R, k, kind)
        f = regular_factors(basis)
        assert f is not None, f"{G!r} {kind} k={k}: regular -> regular must factor"
        assert f.generator.shape == (basis.dim, G.order, len(basis.spatial))
        assert sorted(f.sources[0]) == list(range(G.order))
        assert np.abs(f.filters() - basis.filters).max() < 1e-12


@pytest.mark.parametrize("G", GROUPS, ids=repr)
def test_factors_apply_to_regular_outputs_with_several_input_channels_only(G):
    R, T = G.regular_representation, G.trivial_representation
    assert regular_factors(kernel_basis(T, R, 3)) is None  # lifting: the dense basis is already small
    assert regular_factors(kernel_basis(R, T, 3)) is None
    for irrep in G.irreps()[1:]:
        assert regular_factors(kernel_basis(irrep, R, 3)) is None
        assert regular_factors(kernel_basis(R, irrep, 3)) is None
    trivial = eqcnn.Trivial().regular_representation
    assert regular_factors(kernel_basis(trivial, trivial, 3, "harmonic")) is None


@pytest.mark.parametrize("G", GROUPS, ids=repr)
@pytest.mark.parametrize("k", [3, 5])
def test_spatial_action_is_the_group_acting_on_the_spatial_functions(G, k):
    R = G.regular_representation
    for kind in kinds(G):
        basis = kernel_basis(R, R, k, kind)
        n = len(basis.spatial)
        for g in G.elements:
            for h in G.elements:
                # psi((gh)^-1 p) = T_h psi(g^-1 p) = T_h T_g psi(p)
                prod = basis.spatial_action(h) @ basis.spatial_action(g)
                assert np.abs(basis.spatial_action(g * h) - prod).max() < 1e-12
            if g.angle % (np.pi / 2) < 1e-9:  # on the grid, moving the sampled functions is exact
                moved = rotate_pixels(torch.from_numpy(basis.spatial.copy())[None], g.angle, g.reflection)[0]
                acted = basis.spatial_action(g) @ basis.spatial.reshape(n, -1)
                assert np.abs(moved.numpy().reshape(n, -1) - acted).max() < 1e-12, f"{g} {kind}"


def reference_filter(conv):
    """The filter from the dense float64 bases, block by block, in numpy (independent of FilterBank)."""
    w = conv.weight.detach().double().numpy()
    tin, tout, k = conv.in_type, conv.out_type, conv.kernel_size[0]
    filt = np.zeros((tout.size, tin.size, k, k))
    offset = 0
    # FilterBank's weight layout: blocks by (out rep, in rep) in order of first appearance, fields in order
    out_groups, in_groups = {}, {}
    for f, rep in enumerate(tout.representations):
        out_groups.setdefault(rep, []).append(f)
    for f, rep in enumerate(tin.representations):
        in_groups.setdefault(rep, []).append(f)
    for ro, ofields in out_groups.items():
        for ri, ifields in in_groups.items():
            b = kernel_basis(ri, ro, k, conv.basis_kind).filters
            n = len(ofields) * len(ifields) * b.shape[0]
            coef = w[offset : offset + n].reshape(len(ofields), len(ifields), b.shape[0])
            offset += n
            for a, fo in enumerate(ofields):
                for c, fi in enumerate(ifields):
                    so, si = tout.field_starts[fo], tin.field_starts[fi]
                    filt[so : so + ro.size, si : si + ri.size] = np.einsum("j,jodyx->odyx", coef[a, c], b)
    assert offset == w.size
    return filt


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_expanded_filter_matches_the_dense_reference(data):
    G = data.draw(es.groups(families=("cyclic", "dihedral"), min_n=2, max_n=8), label="group")
    kind = data.draw(st.sampled_from(kinds(G)), label="kind")
    k = data.draw(st.sampled_from([1, 3, 5]), label="k")
    tin = data.draw(es.field_types(G, max_fields=3), label="in_type")
    tout = data.draw(es.field_types(G, max_fields=3), label="out_type")
    try:
        conv = enn.Conv2d(tin, tout, k, basis=kind).double()
    except ValueError as e:  # no equivariant filter at all (e.g. k=1 between some irreps): said clearly
        assert "no equivariant" in str(e) or "kernel_size" in str(e)
        return
    with torch.no_grad():
        conv.weight.normal_()
    filt, _ = conv.expand_parameters()
    ref = reference_filter(conv)
    assert np.abs(filt.detach().numpy() - ref).max() < 1e-12 * max(1.0, np.abs(ref).max())


def test_regular_layers_use_the_factors_and_lifting_layers_the_dense_basis():
    G = eqcnn.Cyclic(8)
    group_conv = enn.Conv2d(G.regular(3), G.regular(2), 5)
    lifting = enn.Conv2d(G.trivial(3), G.regular(2), 5)
    assert all(blk.factored for blk in group_conv._bank.blocks)
    assert not any(blk.factored for blk in lifting._bank.blocks)
    # the factored constants are small: no (dim x |G|^2 k^2) dense basis is kept for the group conv
    n_const = sum(t.numel() for blk in group_conv._bank.blocks for t in blk.tensors)
    assert n_const < kernel_basis(G.regular_representation, G.regular_representation, 5).filters.size / 10


@pytest.mark.parametrize("types", ["regular", "mixed", "irreps"])
def test_filter_constants_hold_no_subnormal_floats(types):
    # subnormal operands slow CPU GEMMs several times over; the bases' rounding noise must be exact zeros
    G = eqcnn.Cyclic(8)
    tin, tout = {
        "regular": (G.regular(2), G.regular(2)),
        "mixed": (G.trivial(1) + G.regular(1), G.regular(1) + G.irreps_field(1)),
        "irreps": (G.irreps_field(1, multiplicity=2), G.irreps_field(2, multiplicity=3)),
    }[types]
    conv = enn.Conv2d(tin, tout, 7)
    tiny = torch.finfo(torch.float32).tiny
    consts = [t for blk in conv._bank.blocks for t in blk.tensors if t.is_floating_point()]
    consts.append(conv._bias_map.basis)
    for t in consts:
        assert not ((t != 0) & (t.abs() < tiny)).any()
    for blk in conv._bank.blocks:
        f = blk.basis.filters
        small = (f != 0) & (np.abs(f) < 1e-14 * np.abs(f).max())
        assert not small.any()


def test_quotient_permutation_inputs_factor_too():
    # any permutation representation can feed a regular output: C4 acting on 2 channels through C4/C2
    G = eqcnn.Cyclic(4)
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    quotient = eqcnn.groups.Representation(G, "quotient(2)", np.stack([np.eye(2), swap, np.eye(2), swap]))
    R = G.regular_representation
    basis = kernel_basis(quotient, R, 5)
    f = regular_factors(basis)
    assert f is not None
    assert np.abs(f.filters() - basis.filters).max() < 1e-12


def test_float32_filters_match_the_float64_reference():
    G = eqcnn.Dihedral(4)
    conv = enn.Conv2d(G.regular(2) + G.trivial(1), G.regular(3), 5)
    with torch.no_grad():
        conv.weight.normal_()
    ref = reference_filter(conv)
    filt = conv.expand_parameters()[0].detach().double().numpy()
    assert np.abs(filt - ref).max() < 1e-6 * np.abs(ref).max()


def test_off_the_cpu_regular_blocks_expand_with_the_dense_basis_up_to_a_size(monkeypatch):
    import eqcnn.nn._filter_bank as filter_bank

    G = eqcnn.Cyclic(8)
    conv = enn.Conv2d(G.regular(3), G.regular(2), 5)
    assert all(blk.factored for blk in conv._bank.blocks)
    conv.to("meta")  # any device other than the CPU (CUDA, MPS...): one GEMM with the dense basis
    (blk,) = conv._bank.blocks
    assert not blk.factored
    assert blk.tensors[0].shape == (blk.dim, 8 * 8 * 5 * 5) and blk.tensors[0].device.type == "meta"
    conv.to_empty(device="cpu")  # back on the CPU: the factored form again
    assert blk.factored and blk.tensors[0].device.type == "cpu"
    monkeypatch.setattr(filter_bank, "DENSE_OFF_CPU_BYTES", blk.dim * 8 * 8 * 5 * 5 * 4 - 1)
    conv.to("meta")  # a dense basis over the limit stays factored
    assert blk.factored
    assert not blk.dense_on(torch.float32, "meta") and blk.dense_on(torch.float16, "meta")


def test_the_dense_and_factored_forms_give_the_same_filters_gradients_and_pickles(monkeypatch):
    import eqcnn.nn._filter_bank as filter_bank

    torch.manual_seed(0)
    G = eqcnn.Dihedral(4)
    tin, tout = G.regular(2) + G.trivial(1), G.regular(3)
    factored = enn.Conv2d(tin, tout, 5).double()
    monkeypatch.setattr(filter_bank._Block, "dense_on", lambda self, dtype, device: True)  # dense on the CPU
    dense = enn.Conv2d(tin, tout, 5).double()
    dense.load_state_dict(factored.state_dict())
    assert any(blk.factored for blk in factored._bank.blocks)
    assert not any(blk.factored for blk in dense._bank.blocks)
    grad = torch.randn(factored._bank.shape, dtype=torch.float64)
    filters, grads = [], []
    for conv in (factored, dense):
        filt = conv.expand_parameters()[0]
        filt.backward(grad)
        filters.append(filt.detach())
        grads.append(conv.weight.grad)
    assert (filters[0] - filters[1]).abs().max() < 1e-12 * filters[0].abs().max()
    assert (grads[0] - grads[1]).abs().max() < 1e-12 * grads[0].abs().max()
    saved = pickle.dumps(dense)
    assert not any(blk.factored for blk in pickle.loads(saved)._bank.blocks)
    monkeypatch.undo()  # loaded where the factored form is chosen (a CUDA pickle loaded on the CPU): factored
    clone = pickle.loads(saved)
    assert [blk.factored for blk in clone._bank.blocks] == [blk.factored for blk in factored._bank.blocks]
    assert (clone.expand_parameters()[0] - filters[0]).abs().max() < 1e-12 * filters[0].abs().max()


def test_off_the_cpu_layers_of_one_shape_share_their_constants_until_the_last_is_freed():
    import gc

    import eqcnn.nn._filter_bank as filter_bank

    G = eqcnn.Cyclic(8)
    gc.collect()
    before = len(filter_bank._ON_DEVICE)
    layers = [enn.Conv2d(G.regular(2), G.regular(3), 5).to("meta") for _ in range(3)]
    factored = enn.Conv2d(G.regular(2), G.regular(3), 5)  # on the CPU: the cached tensors, shared too
    heads = [m._bank.blocks[0].tensors[0] for m in layers]
    assert heads[0] is heads[1] is heads[2]  # one dense basis on the device for the three layers
    double = enn.Conv2d(G.regular(2), G.regular(3), 5).to("meta").double()
    assert (
        double._bank.blocks[0].tensors[0] is not heads[0] and double._bank.blocks[0].tensors[0].dtype == torch.float64
    )
    assert factored._bank.blocks[0].tensors[0] is enn.Conv2d(G.regular(2), G.regular(3), 5)._bank.blocks[0].tensors[0]
    assert len(filter_bank._ON_DEVICE) == before + 2
    del layers, heads, double
    gc.collect()
    assert len(filter_bank._ON_DEVICE) == before  # freed with the last layer that held them
