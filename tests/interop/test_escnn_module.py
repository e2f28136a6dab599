"""EscnnModule: escnn modules behind eqcnn's interface."""

import math

import pytest
import torch

import eqcnn

pytestmark = pytest.mark.escnn
escnn = pytest.importorskip("escnn", exc_type=ImportError)
ie = pytest.importorskip("eqcnn.interop.escnn", exc_type=ImportError)
enn = pytest.importorskip("escnn.nn", exc_type=ImportError)
gspaces = pytest.importorskip("escnn.gspaces", exc_type=ImportError)


def _c4_net():
    G = eqcnn.Cyclic(4)
    ti, th = ie.to_escnn_type(G.trivial(1)), ie.to_escnn_type(G.regular(2))
    return enn.SequentialModule(enn.R2Conv(ti, th, 3, padding=1), enn.ReLU(th), enn.R2Conv(th, th, 3, padding=1))


def test_wraps_a_cn_model():
    net = _c4_net()
    m = ie.EscnnModule(net)
    G = eqcnn.Cyclic(4)
    assert m.in_type == G.trivial(1) and m.out_type == G.regular(2)
    x = torch.randn(2, 1, 9, 9)
    y = m(x)
    assert torch.equal(y, net(enn.GeometricTensor(x, net.in_type)).tensor)
    for g in G.elements:
        torch.testing.assert_close(m(m.in_type.transform(x, g)), m.out_type.transform(y, g), rtol=1e-5, atol=1e-5)
    assert m(x[0]).shape == (8, 9, 9)


def test_input_checked():
    m = ie.EscnnModule(_c4_net())
    with pytest.raises(ValueError, match="must have 1 channels"):
        m(torch.randn(2, 3, 9, 9))
    with pytest.raises(TypeError, match=r"escnn\.nn\.EquivariantModule, got torch Conv2d"):
        ie.EscnnModule(torch.nn.Conv2d(1, 1, 3))
    # `group` is for SO(2)/O(2) modules: a C4 module is not silently kept over C4 when asked for another group
    with pytest.raises(ValueError, match=r"`group` \(=Dihedral\(4\)\) is the subgroup .* over Cyclic\(4\) already"):
        ie.EscnnModule(_c4_net(), group=eqcnn.Dihedral(4))
    assert ie.EscnnModule(_c4_net(), group=eqcnn.Cyclic(4)).in_type == eqcnn.Cyclic(4).trivial(1)


def test_state_dict_same_keys_in_train_and_eval():
    m = ie.EscnnModule(_c4_net())
    train_keys = list(m.state_dict())
    m.eval()
    assert list(m.state_dict()) == train_keys
    # loading fresh weights in eval mode refreshes escnn's cached filter
    other = ie.EscnnModule(_c4_net())
    m.load_state_dict(other.state_dict())
    other.eval()
    x = torch.randn(1, 1, 9, 9)
    torch.testing.assert_close(m(x), other(x))


def test_export_is_plain_torch():
    m = ie.EscnnModule(_c4_net())
    m.train()
    plain = m.export()
    assert m.training  # the mode is restored
    assert not any("escnn" in type(mod).__module__ for mod in plain.modules())
    m.eval()
    x = torch.randn(2, 1, 9, 9)
    torch.testing.assert_close(plain.eval()(x), m(x), rtol=1e-5, atol=1e-5)


def test_export_unsupported_module_says_so():
    so2 = gspaces.rot2dOnR2(-1, maximum_frequency=2)
    t = enn.FieldType(so2, [so2.irrep(1)])
    m = ie.EscnnModule(enn.NormNonLinearity(t))
    with pytest.raises(NotImplementedError, match="NormNonLinearity"):
        m.export()


def _so2_net():
    so2 = gspaces.rot2dOnR2(-1, maximum_frequency=4)
    ti = enn.FieldType(so2, [so2.trivial_repr])
    th = enn.FieldType(so2, [so2.irrep(0), so2.irrep(1), so2.irrep(2)] * 2)
    return enn.SequentialModule(
        enn.R2Conv(ti, th, 5, padding=2), enn.NormNonLinearity(th), enn.R2Conv(th, ti, 5, padding=2)
    )


def test_so2_model_behind_the_adapter():
    net = _so2_net()
    m = ie.EscnnModule(net)  # eqcnn has SO(2): the types are eqcnn's own
    assert isinstance(m.in_type.group, eqcnn.SO2) and m.in_type == m.in_type.group.trivial(1)
    assert m.out_type.size == 1 and m.in_type.is_trivial
    x = torch.randn(1, 1, 15, 15)
    y = m(x)
    g = m.in_type.group.rotation_by(90)
    torch.testing.assert_close(m(m.in_type.transform(x, g)), m.out_type.transform(y, g), rtol=1e-5, atol=1e-5)
    # the adapter for what eqcnn cannot express still transforms like escnn, given an eqcnn element, an angle or
    # an escnn element
    t = ie.EscnnFieldType(net[0].out_type)
    h = torch.randn(1, t.size, 15, 15)
    want = ie.from_escnn_type(net[0].out_type).transform(h, g)
    for e in (eqcnn.Cyclic(4).element(1), math.pi / 2, t.group.element(math.pi / 2)):
        torch.testing.assert_close(t.transform(h, e), want, rtol=1e-5, atol=1e-5)
    assert "SO(2)" in repr(t)


def test_so2_model_seen_through_a_subgroup():
    net = _so2_net()
    m = ie.EscnnModule(net, group=eqcnn.Cyclic(8))
    assert m.in_type == eqcnn.Cyclic(8).trivial(1)
    assert m.out_type == eqcnn.Cyclic(8).trivial(1)
    hidden = ie.EscnnFieldType(net[0].out_type).restrict(eqcnn.Cyclic(8))
    assert hidden == eqcnn.FieldType(eqcnn.Cyclic(8), [eqcnn.Cyclic(8).irrep(k) for k in (0, 1, 2)] * 2)


def test_o2_restrictions_transform_like_escnn():
    o2 = gspaces.flipRot2dOnR2(-1, maximum_frequency=4)
    t = ie.EscnnFieldType(enn.FieldType(o2, [o2.trivial_repr, o2.irrep(1, 1), o2.irrep(1, 0), o2.irrep(1, 3)]))
    x = torch.randn(2, t.size, 9, 9)
    for G in (eqcnn.Dihedral(4), eqcnn.Cyclic(4), eqcnn.Dihedral(8)):
        r = t.restrict(G)
        for g in G.elements:
            if g.is_grid_symmetry:
                torch.testing.assert_close(r.transform(x, g), t.transform(x, g), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="needs a group with reflections"):
        ie.EscnnFieldType(enn.FieldType(gspaces.rot2dOnR2(-1), [gspaces.rot2dOnR2(-1).trivial_repr])).transform(
            x[:, :1], eqcnn.Dihedral(4).element(0, True)
        )


def test_harness_sequential_and_export_take_the_wrapper():
    from eqcnn import nn as eqnn
    from eqcnn.testing import assert_equivariant

    G = eqcnn.Dihedral(4)
    h = G.regular(2)
    middle = ie.EscnnModule(enn.R2Conv(ie.to_escnn_type(h), ie.to_escnn_type(h), 3, padding=1))
    model = eqnn.Sequential(eqnn.Conv2d(G.trivial(1), h, 3, padding=1), middle, eqnn.ReLU(h)).eval()
    assert_equivariant(model, size=11)
    plain = eqnn.export(model)
    assert not any(isinstance(m, (eqnn.EquivariantModule, enn.EquivariantModule)) for m in plain.modules())
    x = torch.randn(2, 1, 11, 11)
    torch.testing.assert_close(plain(x), model(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="expects in_type Dihedral"):
        eqnn.Sequential(eqnn.Conv2d(G.trivial(1), G.regular(3), 3, padding=1), middle)


def test_so2_model_passes_the_harness_through_c4():
    m = ie.EscnnModule(_so2_net(), group=eqcnn.Cyclic(4)).eval()
    from eqcnn.testing import assert_equivariant

    assert_equivariant(m, size=15)


def test_harness_sees_an_so2_wrapper_through_the_group_it_is_given():
    from eqcnn.testing import assert_equivariant, equivariance_report

    gs = gspaces.rot2dOnR2(-1)
    conv = enn.R2Conv(enn.FieldType(gs, [gs.trivial_repr]), enn.FieldType(gs, [gs.irrep(1)]), 5, padding=2)
    m = ie.EscnnModule(conv).eval()  # SO(2) types: checked natively at the group's sampled angles
    native = equivariance_report(m, torch.randn(1, 1, 17, 17))
    assert native.passed and sum("rot" in r.transform for r in native.rows) == m.in_type.group.order - 1
    report = assert_equivariant(m, size=17, group=eqcnn.Cyclic(8))
    assert "Cyclic(8).trivial(1) -> Cyclic(8).irreps_field(1)" in str(report)
    rows = {r.transform: r for r in report.rows}
    assert rows["rot 90 deg"].status == "pass" and rows["rot 45 deg"].rel_l2 < 0.1


def test_harness_restricts_so2_types_given_a_channel_count_or_inside_a_container():
    from eqcnn.testing import equivariance_report

    gs = gspaces.rot2dOnR2(-1)
    conv = enn.R2Conv(enn.FieldType(gs, [gs.trivial_repr]), enn.FieldType(gs, [gs.irrep(1)]), 5, padding=2)
    C8 = eqcnn.Cyclic(8)
    law = "Cyclic(8).trivial(1) -> Cyclic(8).irreps_field(1)"
    # a channel count for the input does not bypass the restriction of the (foreign) output type
    report = equivariance_report(ie.EscnnModule(conv).eval(), size=17, group=C8, in_type=1)
    assert law in str(report) and report.passed and report.judged
    # nor does wrapping the module in a plain container
    wrapped = torch.nn.Sequential(ie.EscnnModule(conv).eval(), torch.nn.Identity())
    report = equivariance_report(wrapped, torch.randn(1, 1, 17, 17), group=C8)
    assert law in str(report) and report.passed and report.judged
