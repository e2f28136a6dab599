"""The harness on volumes: every octahedral element and 3-D shifts, for eqcnn models and plain torch ones."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import assert_equivariant, equivariance_report
from eqcnn.testing import strategies as est

O, OH, T = eqcnn.Octahedral(), eqcnn.FullOctahedral(), eqcnn.Trivial()


def small_net(G, stride: int = 1) -> enn.Sequential:
    r = G.regular(1)
    return enn.Sequential(
        enn.Conv3d(G.trivial(1), r, 3, padding=1), enn.ReLU(r), enn.Conv3d(r, r, 3, stride=stride, padding=1)
    )


@pytest.mark.parametrize("G", [O, OH], ids=["O", "Oh"])
def test_an_octahedral_model_passes_every_element_and_shift(G, device, eqcnn_exact):
    net = small_net(G).to(device)
    report = assert_equivariant(net, size=8)
    elements = [r for r in report.rows if not r.transform.startswith("shift")]
    shifts = [r for r in report.rows if r.transform.startswith("shift")]
    assert len(elements) == G.order - 1 and all(r.status == "pass" for r in elements)
    assert len(shifts) == 4 and all(r.status == "pass" for r in shifts)
    assert report.input_shape == (1, 1, 8, 8, 8) and report.device.type == torch.device(device).type


def test_a_plain_conv3d_declared_octahedral_fails():
    plain = torch.nn.Conv3d(1, 3, 3, padding=1)
    with pytest.raises(AssertionError, match=r"model is not equivariant as declared"):
        assert_equivariant(plain, group=O, size=7)
    report = equivariance_report(plain, group=O, size=7)
    assert all(r.status == "FAIL" for r in report.rows if not r.transform.startswith("shift"))
    assert all(r.status == "pass" for r in report.rows if r.transform.startswith("shift"))  # it is a conv


def test_a_5d_input_makes_a_plain_model_a_volume_check():
    report = equivariance_report(torch.nn.Conv3d(1, 2, 3), torch.randn(1, 1, 8, 8, 8))
    assert report.law.startswith("Octahedral().trivial(1)") and report.input_shape == (1, 1, 8, 8, 8)
    # and a rotation-invariant plain model (a centred Laplacian-like average) passes the rotations
    blur = torch.nn.AvgPool3d(3, stride=1, padding=1)
    assert_equivariant(blur, torch.randn(1, 2, 6, 6, 6), group=OH)


def test_a_position_dependent_model_fails_the_shifts_only():
    class AddDepth(torch.nn.Module):
        def forward(self, x):  # symmetric in every axis: invariant under the cube's rotations, not shifts
            n = x.shape[-1]
            r = (torch.arange(n) - (n - 1) / 2).abs()
            return x + r[:, None, None] + r[None, :, None] + r[None, None, :]

    report = equivariance_report(AddDepth(), torch.randn(1, 1, 7, 7, 7), group=O)
    rows = {r.transform: r for r in report.rows}
    assert all(r.status == "pass" for name, r in rows.items() if not name.startswith("shift"))
    assert all(r.status == "FAIL" for name, r in rows.items() if name.startswith("shift"))


def test_strided_models_are_checked_at_a_symmetric_size_and_told_when_not():
    net = small_net(O, stride=2)
    report = assert_equivariant(net)  # the default size is symmetric for every stride
    assert report.input_shape[-1] % 2 == 1
    bad = equivariance_report(net, size=8)
    assert not bad.passed and any("nearest exact sizes: below (7, 7, 7), above (9, 9, 9)" in n for n in bad.notes)


def test_invariant_outputs_skip_the_shifts_and_judge_the_rotations():
    r = O.regular(1)
    net = enn.Sequential(enn.Conv3d(O.trivial(1), r, 3), enn.GroupPool(r), enn.AdaptiveAvgPool3d(O.trivial(1), 1))
    report = assert_equivariant(net, size=7)
    assert report.judged == O.order - 1
    assert all(
        "shifts are not compared" in row.note or "border" in row.note for row in report.rows if row.status == "skip"
    )


def test_explicit_transforms_and_bad_ones():
    net = small_net(O)
    g = O.elements[3]
    report = assert_equivariant(net, size=7, transforms=[g, (1, 0, 0)])
    assert [r.transform for r in report.rows] == [repr(g), "shift (1, 0, 0)"]
    with pytest.raises(ValueError, match=r"a shift of a volume is a tuple \(dd, dh, dw\) of 3 ints.*got \(1, 0\)"):
        equivariance_report(net, size=7, transforms=[(1, 0)])
    with pytest.raises(ValueError, match=r"is not an element of Octahedral\(\)"):
        equivariance_report(net, size=7, transforms=[OH.elements[30]])
    with pytest.raises(ValueError, match=r"`angles` \(=\[45\]\) are for images"):
        equivariance_report(net, size=7, angles=[45])
    with pytest.raises(ValueError, match="the group to check, Cyclic\\(4\\), acts on the plane"):
        equivariance_report(torch.nn.Conv3d(1, 1, 3), torch.randn(1, 1, 5, 5, 5), group=eqcnn.Cyclic(4))


@settings(max_examples=8, deadline=None)
@given(G=est.groups(families=("octahedral", "full_octahedral")), data=st.data())
def test_property_every_field_type_pair_is_exact(G, data):
    t_in = data.draw(est.field_types(G, kinds=("trivial", "regular", "irrep"), max_fields=2))
    t_out = data.draw(est.field_types(G, kinds=("trivial", "regular", "irrep", "quotient"), max_fields=2))
    try:
        conv = enn.Conv3d(t_in, t_out, 3, padding=1)
    except ValueError as e:
        assert "no equivariant" in str(e)
        return
    assert_equivariant(conv, size=data.draw(st.integers(4, 7)))


@pytest.mark.parametrize(
    ("name", "factory", "size"),
    [
        ("valid padding", lambda: enn.Conv3d(O.trivial(1), O.regular(1), 5), 12),
        (
            "two strides",
            lambda: enn.Sequential(
                enn.Conv3d(O.trivial(1), O.regular(1), 3, stride=2, padding=1),
                enn.Conv3d(O.regular(1), O.regular(1), 3, stride=2, padding=1),
            ),
            13,
        ),
        ("upsampling", lambda: enn.ConvTranspose3d(O.regular(1), O.regular(1), 3, stride=2, padding=1), 7),
        ("dilation", lambda: enn.Conv3d(O.regular(1), O.regular(1), 3, padding=2, dilation=2), 9),
        ("trivial 3-D conv", lambda: enn.Conv3d(T.trivial(1), T.trivial(2), 3, padding=1), 8),
        ("plain 3-D conv", lambda: torch.nn.Conv3d(2, 2, 3, padding=1, dilation=1), 8),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_correct_models_of_every_layout_pass_with_their_shifts_judged(name, factory, size):
    model = factory()
    group = T if name.startswith(("trivial", "plain")) else None
    report = assert_equivariant(model, size=size, group=group)
    shifts = [r for r in report.rows if r.transform.startswith("shift")]
    assert shifts and all(r.status == "pass" for r in shifts), str(report)
    assert report.input_shape[2:] == (size,) * 3


def test_the_shift_check_fails_a_layer_that_moves_its_output_by_the_wrong_amount():
    class Shifted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv3d(1, 1, 3, padding=1)

        def forward(self, x):  # an upsampled output that a size ratio would read as equivariant
            return torch.nn.functional.interpolate(self.conv(x), scale_factor=2, mode="nearest")

    report = equivariance_report(Shifted(), torch.randn(1, 1, 8, 8, 8), group=T)
    assert any(r.status == "FAIL" for r in report.rows if r.transform.startswith("shift"))


def test_volume_inputs_and_options_are_checked():
    net = small_net(O)
    with pytest.raises(ValueError, match=r"`x` must be a cube for Octahedral\(\).*got spatial shape \(5, 6, 7\)"):
        equivariance_report(net, torch.randn(1, 1, 5, 6, 7))
    with pytest.raises(ValueError, match=r"`x` must be a floating point volume"):
        equivariance_report(net, torch.ones(1, 1, 5, 5, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`rtol` must be a finite number >= 0, got -1.0"):
        equivariance_report(net, size=7, rtol=-1.0)
    with pytest.raises(ValueError, match=r"`ratio` \(=0.5\) is for images"):
        equivariance_report(net, size=7, ratio=0.5)
    with pytest.raises(ValueError, match=r"a shift of a volume is a tuple \(dd, dh, dw\) of 3 ints.*got 90"):
        equivariance_report(net, size=7, transforms=[90])
    with pytest.raises(ValueError, match=r"the shift \(7, 0, 0\) must be smaller than the input's side 7"):
        equivariance_report(net, size=7, shifts=[(7, 0, 0)])

    class DropAxis(torch.nn.Module):
        def forward(self, x):
            return x[..., 0]

    with pytest.raises(ValueError, match=r"expected \(B, 24, D, H, W\) or \(B, 24\)"):
        equivariance_report(DropAxis(), torch.randn(1, 24, 5, 5, 5), out_type=O.regular(1), in_type=O.regular(1))


def test_a_global_model_says_that_no_shift_was_judged():
    class GlobalMean(torch.nn.Module):
        def forward(self, x):
            return x - x.mean(dim=(2, 3, 4), keepdim=True)

    report = equivariance_report(GlobalMean(), torch.randn(1, 1, 7, 7, 7), group=O)
    assert any("no shift was judged" in n for n in report.notes)


def test_a_cropping_model_passes_its_shifts():
    class Cropped(torch.nn.Module):  # translation-equivariant; its output is smaller than its input
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv3d(1, 2, 3, padding=1)

        def forward(self, x):
            return self.conv(x)[..., 5:-5, 5:-5, 5:-5]

    report = assert_equivariant(Cropped(), torch.randn(1, 1, 21, 21, 21), group=T)
    assert all(r.status == "pass" for r in report.rows)


def test_default_shifts_too_large_for_the_input_are_left_out():
    net = enn.Sequential(*[enn.Conv3d(T.trivial(1), T.trivial(1), 3, stride=2, padding=1) for _ in range(3)])
    report = equivariance_report(net, size=9, group=T)  # total stride 8 on a 9^3 input
    assert all(max(abs(int(v)) for v in r.transform[len("shift (") : -1].split(",")) < 9 for r in report.rows)
