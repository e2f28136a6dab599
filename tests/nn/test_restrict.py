"""Restrict: a group's features seen by a subgroup, in the middle of a network."""

import pickle

import pytest
import torch
from equivariance_check import check_equivariant

from eqcnn import Cyclic, Dihedral, Trivial
from eqcnn import nn as enn
from eqcnn.models import SFCNN
from eqcnn.testing import assert_equivariant, equivariance_report


def test_dihedral_to_its_rotations_is_a_view():
    r = enn.Restrict(Dihedral(8).regular(3) + Dihedral(8).irreps_field(1, 2), Cyclic(8))
    assert r.out_type == Cyclic(8).regular(6) + Cyclic(8).irreps_field(2)
    x = torch.randn(2, r.in_type.size, 5, 5)
    assert r(x) is x and r.is_view
    assert isinstance(r.export(), torch.nn.Identity)


def test_reordering_restriction_moves_channels_into_the_subgroups_fields():
    r = enn.Restrict(Cyclic(8).regular(1), Cyclic(4))
    assert r.out_type == Cyclic(4).regular(2) and not r.is_view
    x = torch.arange(8.0).reshape(1, 8, 1, 1)
    assert r(x).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert torch.equal(r.export()(x), r(x)) and torch.equal(torch.jit.script(r.export())(x), r(x))


def test_the_check_catches_a_wrong_relabelling():
    r = enn.Restrict(Cyclic(8).regular(2), Cyclic(4))
    x = torch.randn(1, 16, 9, 9)
    check_equivariant(r, x)
    r.perm = torch.arange(16)  # keep the channels where they are but declare Cyclic(4) regular fields
    with pytest.raises(AssertionError, match="not equivariant"):
        check_equivariant(r, x)


def test_a_restricted_model_is_checked_under_the_subgroup():
    G, H = Dihedral(8), Cyclic(8)
    t = G.regular(2)
    model = enn.Sequential(
        enn.Conv2d(G.trivial(1), t, 5, padding=2),
        enn.ReLU(t),
        enn.Restrict(t, H),
        enn.Conv2d(t.restrict(H), H.regular(2), 5, padding=2),
    )
    report = equivariance_report(model, size=17)
    assert report.passed and report.law.startswith("Cyclic(8).trivial(1) -> Cyclic(8)")
    assert sum("rot" in row.transform for row in report.rows) == 7 and not any(
        "flip" in r.transform for r in report.rows
    )
    # declared Dihedral(8)-equivariant to the end (16 channels, one regular field), the same model fails
    with pytest.raises(AssertionError, match="flip"):
        assert_equivariant(model, size=17, in_type=G.trivial(1), out_type=G.regular(1))


def test_restrict_prints_pickles_and_has_no_state():
    r = enn.Restrict(Dihedral(4).regular(1), Dihedral(2))
    assert repr(r) == "Restrict(Dihedral(4).regular(1), Dihedral(2))"
    assert list(r.state_dict()) == ["_extra_state"]
    r2 = pickle.loads(pickle.dumps(r))
    x = torch.randn(1, 8, 3, 3)
    assert torch.equal(r2(x), r(x)) and torch.equal(r(x[0]), r(x)[0])


def test_restrict_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"`subgroup` \(=Cyclic\(3\)\) is not a subgroup of Cyclic\(8\)"):
        enn.Restrict(Cyclic(8).regular(1), Cyclic(3))
    with pytest.raises(ValueError, match=r"`subgroup` \(=Cyclic\(8\)\) is not a subgroup of Dihedral\(4\)"):
        enn.Restrict(Dihedral(4).regular(1), Cyclic(8))
    with pytest.raises(TypeError, match=r"`in_type` must be an eqcnn FieldType"):
        enn.Restrict(8, Cyclic(4))


def test_sfcnn_restriction_schedule():
    model = SFCNN(Dihedral(4), width=0.25, kernel_sizes=(5, 3, 3, 3, 3, 3), restrict={3: Cyclic(4)}).eval()
    restricts = [m for m in model.modules() if isinstance(m, enn.Restrict)]
    assert len(restricts) == 1 and restricts[0].out_type.group == Cyclic(4)
    assert model.in_type.group == Dihedral(4) and model.out_type.group == Cyclic(4)
    assert model.extra_repr() == "Dihedral(4), restrict={3: Cyclic(4)}"
    assert_equivariant(model, size=29)
    plain = model.export().eval()
    x = torch.randn(2, 1, 29, 29)
    assert torch.allclose(plain(x), model(x), atol=1e-5)


def test_sfcnn_d16_c16_is_one_call():
    model = SFCNN(Dihedral(16), width=0.1, restrict={5: Cyclic(16)})
    groups = [m.out_type.group for m in model.features if isinstance(m, enn.Conv2d)]
    assert groups == [Dihedral(16)] * 5 + [Cyclic(16)]


@pytest.mark.parametrize(
    ("restrict", "error", "message"),
    [
        ([5], TypeError, r"`restrict` must be a mapping \{block: subgroup\}"),
        ({6: Cyclic(4)}, ValueError, r"a block of `restrict` must be 1 to 5"),
        ({0: Cyclic(4)}, ValueError, r"`restrict's block` must be >= 1, got 0"),
        ({2: Cyclic(8)}, ValueError, r"`restrict\[2\]` \(=Cyclic\(8\)\) is not a subgroup of Dihedral\(4\)"),
        (
            {2: Cyclic(4), 4: Dihedral(2)},
            ValueError,
            r"`restrict\[4\]` \(=Dihedral\(2\)\) is not a subgroup of Cyclic\(4\)",
        ),
    ],
)
def test_sfcnn_refuses_a_bad_schedule(restrict, error, message):
    with pytest.raises(error, match=message):
        SFCNN(Dihedral(4), width=0.25, restrict=restrict)


def test_to_trivial_is_the_plain_features():
    r = enn.Restrict(Cyclic(4).regular(2), Trivial())
    assert r.out_type == Trivial().trivial(8) and r.is_view


def test_the_harness_checks_a_model_under_a_subgroup_when_asked():
    conv = enn.Conv2d(Cyclic(8).trivial(1), Cyclic(8).regular(1), 5, padding=2)
    report = equivariance_report(conv, size=17, group=Cyclic(4))
    assert report.passed and report.law.startswith("Cyclic(4).trivial(1) -> FieldType(Cyclic(4), [restrict(")
    assert sum("rot" in row.transform for row in report.rows) == 3
