"""equivariance_error / equivariance_report / assert_equivariant: pass on correct models, FAIL on broken ones."""

import pytest
import torch
from torch import nn

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import (
    BASELINE_RATIO,
    TOLERANCES,
    assert_equivariant,
    band_limited_noise,
    equivariance_error,
    equivariance_report,
    grid_symmetry_problems,
    natural_image,
    no_tf32,
    plain_baseline,
    tolerance,
)

C4, C8, D4 = eqcnn.Cyclic(4), eqcnn.Cyclic(8), eqcnn.Dihedral(4)


class RollFibres(nn.Module):
    """A group conv whose output channels are rolled by one within each regular field."""

    def __init__(self, conv, reverse=False):
        super().__init__()
        self.conv, self.reverse = conv, reverse
        self.in_type, self.out_type = conv.in_type, conv.out_type

    def forward(self, x):
        y = self.conv(x)
        n = self.out_type.group.order
        y = y.view(y.shape[0], -1, n, *y.shape[-2:])
        y = y.flip(2) if self.reverse else y.roll(1, dims=2)
        return y.reshape(y.shape[0], -1, *y.shape[-2:])


def test_tolerance_table():
    assert set(TOLERANCES) == {torch.float64, torch.float32, torch.float16, torch.bfloat16}
    assert TOLERANCES[torch.float32] == 1e-5 and TOLERANCES[torch.float64] <= 1e-10
    assert tolerance(torch.float16) == TOLERANCES[torch.float16]
    with pytest.raises(ValueError, match="`dtype` must be one of"):
        tolerance(torch.int32)


def test_no_tf32_restores_flags():
    before = (
        torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.allow_tf32,
        torch.get_float32_matmul_precision(),
    )
    torch.backends.cudnn.allow_tf32 = True
    with no_tf32():
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.get_float32_matmul_precision() == "highest"
    assert torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = before[0]


@pytest.mark.parametrize("size", [9, 10])
def test_correct_group_conv_passes(size):
    conv = enn.Conv2d(D4.trivial(2), D4.regular(2), 3, padding=1)
    report = assert_equivariant(conv, size=size)
    assert report.passed and len(report.rows) == D4.order - 1 + 3
    assert all(r.rel_l2 < 1e-5 for r in report.rows)


def test_plain_conv_declared_c4_fails_with_a_table():
    with pytest.raises(AssertionError) as info:
        assert_equivariant(nn.Conv2d(1, 4, 3, padding=1), in_type=C4.trivial(1), out_type=C4.regular(1), size=9)
    text = str(info.value)
    assert "rot 90 deg" in text and "rot 270 deg" in text and "FAIL" in text and "shift (1, 0)" in text
    assert "FAILED: 6 transforms, 3 failed" in text


def test_fibre_permutation_off_by_one():
    torch.manual_seed(1)
    # reversing the fibre is not an intertwiner: broken
    with pytest.raises(AssertionError, match="rot 90 deg"):
        assert_equivariant(RollFibres(enn.Conv2d(C4.trivial(1), C4.regular(2), 3, padding=1), reverse=True), size=9)
    # in a non-abelian group a roll by one is broken too
    with pytest.raises(AssertionError, match="flip"):
        assert_equivariant(RollFibres(enn.Conv2d(D4.trivial(1), D4.regular(2), 3, padding=1)), size=9)
    # but in Cyclic(N) rolling a regular field by one *is* rho(r), which commutes with the action: correct
    assert_equivariant(RollFibres(enn.Conv2d(C4.trivial(1), C4.regular(2), 3, padding=1)), size=9)


def test_stride_breaks_exactness_on_even_input_only():
    net = nn.Sequential(
        enn.Conv2d(C4.trivial(1), C4.regular(1), 3, padding=1), nn.ReLU(),
        enn.Conv2d(C4.regular(1), C4.regular(1), 3, stride=2, padding=1),
    )  # fmt: skip
    assert_equivariant(net, size=17)
    with pytest.raises(AssertionError) as info:
        assert_equivariant(net, size=16)
    text = str(info.value)
    assert "layer '2'" in text and "(16 + 2*1 - 3) % 2 = 1" in text
    # shifts by the stride still pass on the even input
    report = equivariance_report(net, size=16)
    assert all(r.status == "pass" for r in report.rows if r.transform.startswith("shift"))
    assert grid_symmetry_problems(net, band_limited_noise((1, 1, 17, 17))) == []


def test_shift_must_be_a_multiple_of_the_stride():
    conv = enn.Conv2d(C4.trivial(1), C4.regular(1), 3, stride=2, padding=1)
    x = band_limited_noise((1, 1, 13, 13))
    assert equivariance_error(conv, x, (2, -4)).rel_l2 < 1e-6
    report = equivariance_report(conv, x, transforms=[(1, 0), (4, 2)])
    assert [r.status for r in report.rows] == ["skip", "pass"] and "multiple of the model's stride" in report.rows[
        0
    ].note


def test_circular_padding_shifts_compare_everywhere():
    conv = enn.Conv2d(C4.trivial(1), C4.regular(1), 3, padding=1, padding_mode="circular")
    x = band_limited_noise((1, 1, 10, 10))
    r = equivariance_error(conv, x, (3, -7))
    assert r.rel_l2 < 1e-6 and r.compared == 4 * 100
    # the same shift on a zero-padded conv is only exact in the valid region
    z = enn.Conv2d(C4.trivial(1), C4.regular(1), 3, padding=1)
    x20 = band_limited_noise((1, 1, 20, 20))
    assert equivariance_error(z, x20, (3, -7)).rel_l2 < 1e-6
    assert equivariance_error(z, x20, (3, -7), shift_mode="circular").rel_l2 > 1e-2


def test_approximate_rotation_beats_baseline():
    torch.manual_seed(0)
    net = nn.Sequential(
        enn.Conv2d(C8.trivial(1), C8.regular(2), 5, padding=2), nn.ReLU(),
        enn.Conv2d(C8.regular(2), C8.trivial(2), 5, padding=2),
    )  # fmt: skip
    report = assert_equivariant(net, size=21, angles=[30])
    rows = {r.transform: r for r in report.rows}
    r45 = rows["rot 45 deg"]
    assert r45.kind == "approx" and r45.status == "pass" and r45.rel_l2 <= BASELINE_RATIO * r45.baseline
    assert rows["rot 30 deg"].kind == "extra" and rows["rot 30 deg"].status == "info"
    # the same check fails a plain network, declared Cyclic(8): 45 degrees against a baseline of its own kind
    plain = plain_baseline(net)
    rep = equivariance_report(plain, size=21, in_type=C8.trivial(1), out_type=C8.trivial(2))
    assert not rep.passed


def test_plain_model_invariant_declaration():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 5),
    )
    x = natural_image(16)[None]
    # global pooling of a circular conv: invariant to circular shifts, not to rotations
    report = equivariance_report(net, x, output="invariant")
    rows = {r.transform: r for r in report.rows}
    assert rows["shift (1, 0)"].status == "pass" and rows["rot 90 deg"].status == "FAIL"
    assert "Cyclic(4).trivial(3) -> invariant" in str(report)
    # a rotation-invariant plain model passes
    pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert_equivariant(pool, x, output="invariant", group=D4, shift_mode="circular")


def test_dtypes(dtype):
    conv = enn.Conv2d(D4.regular(1), D4.regular(1), 3, padding=1).to(dtype)
    report = assert_equivariant(conv, size=9)
    assert report.dtype == dtype and all(r.limit == TOLERANCES[dtype] for r in report.rows)


def test_device(device):
    conv = enn.Conv2d(C4.trivial(1), C4.regular(1), 3, padding=1).to(device)
    report = assert_equivariant(conv, size=9)
    assert report.device.type == device.type


def test_declaration_errors():
    conv = enn.Conv2d(C4.trivial(1), C4.regular(1), 3, padding=1)
    with pytest.raises(
        ValueError, match=r"`group` \(=Cyclic\(8\)\) is neither the group of the field types \(Cyclic\(4\)\) nor one"
    ):
        equivariance_report(conv, group=C8)
    with pytest.raises(ValueError, match="`output` must be one of 'invariant', 'image'"):
        equivariance_report(conv, output="logits")
    with pytest.raises(ValueError, match="does not fit the output type"):
        equivariance_report(nn.Conv2d(1, 3, 3), out_type=C4.regular(1), size=9)


def test_auto_shift_mode_follows_padding():
    from eqcnn.testing._metrics import resolve_shift_mode

    circ = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
    assert resolve_shift_mode(circ, "auto") == "circular"
    assert resolve_shift_mode(nn.Sequential(circ, nn.MaxPool2d(2)), "auto") == "circular"  # tiling windows
    assert resolve_shift_mode(nn.Sequential(circ, nn.AvgPool2d(3, 2, 1)), "auto") == "crop"  # zero-padded pool
    assert resolve_shift_mode(enn.BlurPool2d(C4.regular(1), stride=2), "auto") == "crop"  # pads by reflection
    with pytest.raises(ValueError, match="`shift_mode` must be one of"):
        resolve_shift_mode(circ, "wrap")


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Upsample(scale_factor=2),
        lambda: nn.Upsample(scale_factor=3, mode="bilinear"),
        lambda: nn.ConvTranspose2d(1, 2, 3, stride=2, padding=1),  # 2H - 1 pixels: the factor is read, not H'/H
        lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1)),
    ],
)
def test_shifts_through_upsampling_move_the_output_by_the_factor(make):
    torch.manual_seed(0)
    report = equivariance_report(make(), in_type=1, size=11, group=eqcnn.Trivial(), baseline=None)
    shifts = [r for r in report.rows if r.transform.startswith("shift")]
    assert len(shifts) == 3 and all(r.status == "pass" for r in shifts), str(report)


class _Ramp(nn.Module):
    """Upsampling, then a gain that grows along the columns: not translation-equivariant across them."""

    def forward(self, x):
        y = nn.functional.interpolate(x, scale_factor=2, mode="bilinear")
        return y * torch.linspace(1, 2, y.shape[-1])


def test_shifts_through_upsampling_fail_a_model_that_is_not_shift_equivariant():
    report = equivariance_report(_Ramp(), in_type=1, size=11, group=eqcnn.Trivial(), baseline=None)
    status = {r.transform: r.status for r in report.rows}
    # a shift along the rows does not meet the ramp; the ones along the columns do
    assert status == {"shift (1, 0)": "pass", "shift (0, 1)": "FAIL", "shift (-1, 2)": "FAIL"}


@pytest.mark.parametrize(
    ("make", "period"),
    [
        (lambda: nn.Sequential(nn.MaxPool2d(2), nn.Upsample(scale_factor=2)), 2),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.LPPool2d(2, 2), nn.Upsample(scale_factor=2)), 2),
        (
            lambda: nn.Sequential(
                nn.Conv2d(1, 2, 3, padding=1),
                nn.MaxPool2d(2),
                nn.Conv2d(2, 2, 3, padding=1),
                nn.MaxPool2d(2),
                nn.Upsample(scale_factor=4, mode="bilinear"),
                nn.Conv2d(2, 1, 3, padding=1),
            ),
            4,
        ),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.Upsample(scale_factor=3)), 2),
    ],
)
def test_shifts_through_downsampling_then_upsampling_use_its_period(make, period):
    # a U-Net follows shifts by its downsampling factor only: the default shifts are multiples of it
    torch.manual_seed(0)
    report = equivariance_report(make().eval(), in_type=1, size=33, group=eqcnn.Trivial(), baseline=None)
    shifts = {r.transform: r for r in report.rows if r.transform.startswith("shift")}
    assert list(shifts)[:2] == [f"shift ({period}, 0)", f"shift (0, {period})"]
    assert all(r.status in ("pass", "skip") for r in shifts.values()) and report.judged >= 2, str(report)


def test_a_shift_that_is_not_a_multiple_of_the_period_is_skipped_and_a_broken_unet_fails():
    net = nn.Sequential(nn.MaxPool2d(2), nn.Upsample(scale_factor=2))
    report = equivariance_report(net, in_type=1, size=16, group=eqcnn.Trivial(), baseline=None, shifts=[(1, 0)])
    assert "is not a multiple of the model's period 2" in report.rows[0].note

    class Ramp(nn.Module):
        def forward(self, y):
            return y * torch.linspace(1, 2, y.shape[-1])

    broken = nn.Sequential(nn.MaxPool2d(2), nn.Upsample(scale_factor=2), Ramp())
    status = {r.transform: r.status for r in equivariance_report(
        broken, in_type=1, size=16, group=eqcnn.Trivial(), baseline=None).rows}  # fmt: skip
    assert status["shift (2, 0)"] == "pass" and status["shift (0, 2)"] == "FAIL"


def _conv_then_pool():
    r = C4.regular(1)
    return enn.Sequential(enn.Conv2d(r, r, 3, stride=2, padding=1), enn.MaxPool2d(r, 2))


@pytest.mark.parametrize(
    ("make", "size"),
    [
        (lambda: enn.MaxPool2d(C4.regular(2), 2), 34),  # 2x2 windows, stride 2: (n - 2) % 2 == 0
        (lambda: enn.AvgPool2d(C4.regular(2), 2), 34),
        (lambda: nn.Sequential(enn.Conv2d(C4.trivial(1), C4.regular(1), 3, padding=1), nn.MaxPool2d(2)), 34),
        # stride-2 conv needs n odd, the pool after it an even (n + 1) / 2: 33 -> 17 fails, 35 -> 18
        (_conv_then_pool, 35),
        # a large receptive field: at least 31 + 6 * 2 = 43 (room for the shift (-2, 4)); (43 + 30 - 31) % 2 == 0
        (lambda: enn.Conv2d(C4.trivial(1), C4.regular(1), 31, stride=2, padding=15), 43),
        (lambda: enn.Conv2d(C4.trivial(1), C4.regular(1), 3, stride=2, padding=1), 33),
    ],
)
def test_default_size_is_exact_for_strided_layers(make, size):
    model = make()
    report = assert_equivariant(model, baseline=None)
    assert report.input_shape[-2:] == (size, size)
    assert enn.exact_input_sizes(model, size, in_channels=report.input_shape[1]).is_exact
    shifts = [r for r in report.rows if r.transform.startswith("shift")]
    assert len(shifts) == 3 and all(r.status == "pass" for r in report.rows)


class Untraceable(nn.Module):
    """Reads a value from its input, so it cannot run on the meta device."""

    def __init__(self):
        super().__init__()
        self.conv = enn.Conv2d(C4.trivial(1), C4.regular(1), 3, stride=2, padding=1)
        self.in_type, self.out_type = self.conv.in_type, self.conv.out_type

    def forward(self, x):
        return self.conv(x) * (1.0 if float(x.detach().abs().sum()) >= 0 else 0.0)


def test_default_size_without_a_meta_trace_keeps_one_mod_stride():
    report = assert_equivariant(Untraceable(), baseline=None)
    assert report.input_shape[-1] == 33


class OneSizeUNet(enn.EquivariantModule):
    """Runs on 15x15 only: down (15 -> 7), up to a set size (7 -> 15), concatenated with the skip connection."""

    def __init__(self, functional=False):
        super().__init__()
        t0, t1 = C4.trivial(1), C4.regular(1)
        self.in_type, self.out_type, self.functional = t0, C4.trivial(2), functional
        self.enc = enn.Conv2d(t0, t1, 3, padding=1)
        self.down = enn.MaxPool2d(t1, 3, stride=2)  # (15 - 3) % 2 == 0: symmetric
        if not functional:
            self.up = enn.Upsample(t1, size=15, mode="bilinear")
        self.head = enn.Conv2d(t1 + t1, self.out_type, 1)

    def forward(self, x):
        skip = self.enc(x)
        low = self.down(skip)
        up = nn.functional.interpolate(low, size=(15, 15), mode="bilinear") if self.functional else self.up(low)
        return self.head(torch.cat([skip, up], dim=1))


@pytest.mark.parametrize("functional", [False, True], ids=["layer", "functional"])
@pytest.mark.parametrize("how", ["size", "x", "default"])
def test_one_size_model_checks_rotations_and_skips_shifts_with_a_reason(functional, how):
    torch.manual_seed(0)
    model = OneSizeUNet(functional).eval()
    with pytest.raises(RuntimeError):
        model(torch.randn(1, 1, 14, 14))  # it does run at one size only
    kwargs = {"size": {"size": 15}, "x": {"x": band_limited_noise((1, 1, 15, 15))}, "default": {}}[how]
    report = assert_equivariant(model, baseline=None, **kwargs)
    assert report.input_shape == (1, 1, 15, 15) and report.receptive_field.is_fixed_grid
    rots = [r for r in report.rows if r.transform.startswith("rot")]
    shifts = [r for r in report.rows if r.transform.startswith("shift")]
    assert len(rots) == 3 and all(r.status == "pass" and r.rel_l2 < 1e-5 for r in rots)
    assert len(shifts) == 3
    for r in shifts:
        assert (r.status, r.rel_l2, r.limit) == ("skip", None, None)
        assert r.note == "the output grid does not follow the input (a fixed output size), so shifts are not compared"
    note = "'up' (Upsample): a fixed output size, which is not translation-equivariant; shifts are not compared"
    assert report.notes == ([] if functional else [note])  # the functional resize is found by measuring


@pytest.mark.parametrize(
    "make",
    [
        lambda: enn.AdaptiveAvgPool2d(C4.regular(2), 2),
        lambda: enn.AdaptiveMaxPool2d(C4.regular(2), 3),
        lambda: enn.Upsample(C4.regular(2), size=13, mode="bilinear"),
        lambda: nn.Sequential(enn.Conv2d(C4.regular(2), C4.regular(2), 3, padding=1), nn.AdaptiveAvgPool2d(2)),
        lambda: nn.Sequential(enn.Conv2d(C4.regular(2), C4.regular(2), 3), nn.Upsample(size=13, mode="bilinear")),
    ],
)
def test_fixed_output_size_layers_pass_rotations_and_skip_shifts(make):
    model = make()
    report = assert_equivariant(model, size=17)
    assert [r.status for r in report.rows] == ["pass"] * 3 + ["skip"] * 3
    assert all("does not follow the input" in r.note for r in report.rows[3:])
    name, layer = next((n, m) for n, m in model.named_modules() if type(m).__name__.startswith(("Adaptive", "Up")))
    assert report.notes == [
        f"'{name or '(model)'}' ({type(layer).__name__}): a fixed output size, which is not "
        "translation-equivariant; shifts are not compared"
    ]
    assert "skipped" in str(report) and "3 skipped" in str(report)


def test_shift_whose_windows_are_too_small_for_the_model_is_skipped():
    conv = nn.Conv2d(1, 1, 7)  # 'valid': needs at least 7x7
    report = equivariance_report(conv, in_type=1, output="image", size=9, shifts=[(1, 0), (3, 0)], baseline=None)
    ok, small = report.rows[-2:]
    assert ok.status == "pass"
    assert small.status == "skip" and small.note.startswith(
        "the model runs on 9x9 but fails on the 6x9 windows that shift (3, 0) compares (RuntimeError: "
    )
    with pytest.raises(RuntimeError):  # an error at the input's own size is the model's, not a skip
        equivariance_report(conv, in_type=1, output="image", size=5, baseline=None)


def test_shift_checks_that_the_output_grid_follows_the_stride():
    from eqcnn.testing import ReceptiveField, Shift
    from eqcnn.testing._declare import declare
    from eqcnn.testing._metrics import compare

    conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)
    decl = declare(conv, output="image", in_type=1)
    wrong = ReceptiveField((3, 3), (1, 1), (1, 1))  # the stride is 2: 34 -> 17 and 33 -> 17
    with pytest.raises(ValueError, match=r"the output is \(17, 17\) on 34x34 and \(17, 17\) on 33x34, not 1x0 "):
        compare(conv, band_limited_noise((1, 1, 34, 34)), Shift(1, 0), decl, "crop", wrong)


def test_size_is_checked():
    conv = enn.Conv2d(C4.trivial(1), C4.regular(1), 3, padding=1)
    with pytest.raises(ValueError, match="`size` must be >= 1, got 0"):
        equivariance_report(conv, size=0)
    with pytest.raises(TypeError, match=r"`size` must be an int, got float \(9.0\)"):
        equivariance_report(conv, size=9.0)
    with pytest.raises(ValueError, match="give them or `x`, not both"):
        equivariance_report(conv, band_limited_noise((1, 1, 9, 9)), size=9)


def _pooled(padding_mode: str) -> enn.Sequential:
    r = C4.regular(2)
    return enn.Sequential(
        enn.Conv2d(C4.trivial(1), r, 3, padding=1, padding_mode=padding_mode),
        enn.ReLU(r),
        enn.GroupPool(r),
        enn.AdaptiveAvgPool2d(C4.trivial(2), 1),
    )


def test_global_output_is_shifted_by_one_pixel_and_compared_unshifted():
    torch.manual_seed(0)
    report = equivariance_report(_pooled("circular"))
    rows = {r.transform: r for r in report.rows}
    assert report.shift_mode == "circular" and report.passed
    assert [t for t in rows if t.startswith("shift")] == ["shift (1, 0)", "shift (0, 1)", "shift (-1, 2)"]
    assert all(rows[t].status == "pass" for t in rows)
    # the same check fails a zero-padded model forced to circular shifts: its borders see the shift
    forced = equivariance_report(_pooled("zeros"), shift_mode="circular")
    assert {r.transform: r.status for r in forced.rows}["shift (1, 0)"] == "FAIL"


def test_global_output_under_cropped_shifts_is_skipped_with_the_reason():
    report = equivariance_report(_pooled("zeros"))
    shifts = [r for r in report.rows if r.transform.startswith("shift")]
    assert report.shift_mode == "crop to the valid region" and len(shifts) == 3
    assert all(r.status == "skip" and "compared under circular shifts only" in r.note for r in shifts)


def _in_place_models():
    from eqcnn.models import SFCNN, ResNet

    t = C4.regular(2)
    return [
        enn.Sequential(enn.Conv2d(C4.trivial(1), t, 3, padding=1), enn.ReLU(t, inplace=True)),
        enn.Sequential(enn.Conv2d(C4.trivial(1), t, 3, padding=1), enn.BatchNorm2d(t), enn.ELU(t, inplace=True)),
        nn.Sequential(enn.Conv2d(C4.trivial(1), t, 3, padding=1), nn.ReLU(inplace=True), enn.Conv2d(t, t, 3)),
        ResNet(C4, layers=(1,), widths=(8,), stem_width=8).stem,
        SFCNN(C8, width=0.25).features,
    ]


@pytest.mark.parametrize("index", range(5), ids=["relu", "bn-elu", "torch-relu", "resnet-stem", "sfcnn-features"])
def test_models_with_in_place_layers_are_checked(index):
    torch.manual_seed(0)
    model = _in_place_models()[index]
    report = assert_equivariant(model, size=17 if index < 4 else 33)
    assert report.receptive_field.method == "analytic"  # eqcnn's per-pixel layers are read from the tree
    assert report.judged >= 3


def test_an_in_place_first_layer_does_not_change_the_input():
    t = C4.regular(1)
    model = enn.Sequential(enn.ELU(t, inplace=True), enn.Conv2d(t, t, 3, padding=1))
    x = band_limited_noise((1, t.size, 11, 11), seed=3)
    before = x.clone()
    assert assert_equivariant(model, x).passed  # ELU is not idempotent: an ELU'd input would fail the check
    assert torch.equal(x, before)


def _pooled_invariant(G, broken=False):
    t = G.regular(2)
    layers = [enn.Conv2d(G.trivial(1), t, 5, padding=2), enn.ReLU(t), enn.GroupPool(t)]
    if broken:  # a plain conv on the invariant maps: not rotation-equivariant
        layers.append(nn.Conv2d(2, 2, 5, padding=2))
    return enn.Sequential(*layers, enn.AdaptiveAvgPool2d(G.trivial(2), 1))


@pytest.mark.parametrize("how", ["1x1", "flattened", "declared"])
def test_off_grid_rows_of_an_invariant_output_are_reported_not_judged(how):
    torch.manual_seed(0)
    model = _pooled_invariant(C8)
    if how == "flattened":
        model = nn.Sequential(model, nn.Flatten())
    report = equivariance_report(model, size=33, output="invariant" if how == "declared" else None)
    off = [r for r in report.rows if r.kind == "approx"]
    assert [r.transform for r in off] == ["rot 45 deg", "rot 135 deg", "rot 225 deg", "rot 315 deg"]
    assert all(r.status == "info" and r.limit is None and r.baseline is not None for r in off)
    assert all(r.note == "invariant output: not judged, see the note" for r in off)
    # a globally pooled plain CNN is nearly invariant too: the ratio would have failed this correct model
    assert any(r.rel_l2 > BASELINE_RATIO * r.baseline for r in off)
    grid = [r for r in report.rows if r.transform in ("rot 90 deg", "rot 180 deg", "rot 270 deg")]
    assert all(r.status == "pass" for r in grid) and report.passed
    assert any("the exact rotations and flips judge it" in n for n in report.notes)
    assert str(report).endswith("PASSED: 10 transforms, 0 failed, 3 skipped, 4 not judged")


def test_a_broken_invariant_model_still_fails_on_the_grid():
    torch.manual_seed(0)
    report = equivariance_report(_pooled_invariant(C8, broken=True), size=33)
    assert not report.passed
    assert {r.transform for r in report.failures} == {"rot 90 deg", "rot 180 deg", "rot 270 deg"}
    assert all(r.status == "info" for r in report.rows if r.kind == "approx")
    plain = nn.Sequential(nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(AssertionError, match=r"rot 90 deg +exact .* FAIL"):
        assert_equivariant(plain, output="invariant", group=C8, size=33)


def test_a_1x1_output_of_non_trivial_fields_is_judged_whole():
    torch.manual_seed(0)
    t = C8.regular(2)
    model = enn.Sequential(enn.Conv2d(C8.trivial(1), t, 5, padding=2), enn.ReLU(t), enn.AdaptiveAvgPool2d(t, 1))
    report = equivariance_report(model, size=33)
    off = [r for r in report.rows if r.kind == "approx"]
    # the fields still rotate (their channels cycle), so the baseline's ratio applies, on every entry: no disk
    assert all(r.status == "pass" and r.limit == BASELINE_RATIO * r.baseline for r in off)
    r45 = equivariance_error(model, band_limited_noise((1, 1, 33, 33)), 45.0)
    assert r45.compared == t.size and r45.rel_l2 < 0.05
    # channels cycling the wrong way round: caught by the exact rotations (pooled regular fields of a
    # trivial input are nearly constant over their channels, so the off-grid ratio hardly sees it)
    rep = equivariance_report(RollFibres(model, reverse=True), size=33)
    assert {r.transform for r in rep.failures} == {"rot 90 deg", "rot 270 deg"}
    assert rep.receptive_field.is_global  # measured: one output pixel that sees the whole input


def test_a_report_that_judged_nothing_does_not_say_passed():
    torch.manual_seed(0)
    report = equivariance_report(_pooled_invariant(eqcnn.Cyclic(3)), size=33)
    assert report.judged == 0 and report.passed  # nothing failed, and nothing was judged
    assert str(report).endswith("NOTHING JUDGED: 5 transforms, 0 failed, 3 skipped, 2 not judged")
    assert any("no rotation or flip of Cyclic(3) is exact on the pixel grid" in n for n in report.notes)


def test_assert_equivariant_refuses_to_pass_when_nothing_was_judged():
    torch.manual_seed(0)
    model = _pooled_invariant(eqcnn.Cyclic(3))  # no exact rotation, and zero padding: shifts not comparable
    with pytest.raises(AssertionError, match=r"nothing was judged: every transform was skipped or only reported"):
        assert_equivariant(model, size=33)


def test_circular_shifts_need_an_output_grid_that_tiles_the_input():
    T = eqcnn.Trivial()
    conv = enn.Conv2d(T.trivial(1), T.trivial(1), 3, stride=2, padding=1, padding_mode="circular")
    rows = {r.transform: r for r in equivariance_report(conv, size=5).rows}
    assert rows["shift (2, 0)"].status == "skip" and "circular shifts need the output grid" in rows["shift (2, 0)"].note
    # on a size the stride tiles, the same shifts are exact checks, and they pass
    rows = {r.transform: r for r in equivariance_report(conv, size=6).rows}
    assert all(rows[t].status == "pass" for t in ("shift (2, 0)", "shift (0, 2)", "shift (-2, 4)"))


class _TFSame(nn.Module):
    """TensorFlow-style 'SAME' padding before a stride-2 conv: the padding depends on the input size."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2)
        with torch.no_grad():  # a symmetric filter: 90-degree turns are exact
            ring = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
            self.conv.weight.copy_(torch.randn(4, 1, 1, 1) * ring)

    def forward(self, x):
        pads = []
        for n in (x.shape[-1], x.shape[-2]):
            total = max((-(-n // 2) - 1) * 2 + 3 - n, 0)
            pads += [total // 2, total - total // 2]
        return self.conv(torch.nn.functional.pad(x, pads))


def test_default_size_measures_the_receptive_field_at_that_size():
    # measured at 64 px the padding is 0; at the default 33 px it is 1: the shifts' valid region must use 1
    torch.manual_seed(0)
    report = assert_equivariant(_TFSame(), baseline=None)
    assert report.input_shape[-1] == 33 and report.receptive_field.padding == (1, 1)
    assert [r.status for r in report.rows if r.transform.startswith("shift")] == ["pass"] * 3


def test_measurements_restore_each_submodule_mode():
    # a frozen batch norm inside a training model stays frozen after a report (its running stats must not move)
    torch.manual_seed(0)
    r = C4.regular(2)
    model = enn.Sequential(enn.Conv2d(C4.trivial(1), r, 3, padding=1), enn.BatchNorm2d(r), enn.ReLU(r))
    model.train()
    model[1].eval()
    equivariance_report(model, size=13)
    assert model.training and model[0].training and not model[1].training and model[2].training
    from eqcnn.plots import rotated_features

    rotated_features(model, model.out_type, torch.randn(1, 1, 13, 13), 90)
    assert model.training and not model[1].training


def test_shifts_through_upsampling_see_the_reach_past_dead_relus():
    # a one-channel ReLU at the end can be off at the probed pixels: the reach is read from whole rows
    failing = 0
    for seed in (5, 13, 21, 22):  # seeds whose centre pixels are all switched off
        torch.manual_seed(seed)
        net = nn.Sequential(
            nn.Conv2d(1, 4, 7, padding=3), nn.ReLU(), nn.Upsample(scale_factor=2, mode="bilinear"),
            nn.Conv2d(4, 1, 3, padding=1), nn.ReLU(),
        ).eval()  # fmt: skip
        report = equivariance_report(net, in_type=1, size=24, group=eqcnn.Trivial(), baseline=None)
        failing += sum(r.status == "FAIL" for r in report.rows)
    assert failing == 0


class _Rounded(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.up = nn.Conv2d(1, 2, 5, padding=2), nn.Upsample(scale_factor=2)

    def forward(self, x):
        return self.up(torch.round(3 * self.conv(x)))


class _EvenOnly(nn.Module):
    """Space-to-depth by a reshape (even sizes only), then a 4x pixel shuffle: 2x upsampling overall."""

    def __init__(self):
        super().__init__()
        self.conv, self.shuffle = nn.Conv2d(4, 16, 1), nn.PixelShuffle(4)

    def forward(self, x):
        B, C, H, W = x.shape
        x = x.view(B, C, H // 2, 2, W // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(B, 4 * C, H // 2, W // 2)
        return self.shuffle(self.conv(x))


class _OneSize(nn.Module):
    """A 2x upsampling plus a learned 32x32 map: it runs on 16x16 inputs only."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, 1, 32, 32))

    def forward(self, x):
        return nn.functional.interpolate(x, scale_factor=2) + self.bias


def test_a_model_that_runs_on_even_sizes_only_is_compared_at_its_period():
    # space-to-depth by a reshape, then a 4x pixel shuffle: the grid is read from the even sizes
    torch.manual_seed(0)
    report = equivariance_report(_EvenOnly().eval(), in_type=1, size=16, group=eqcnn.Trivial(), baseline=None)
    status = {r.transform: r.status for r in report.rows}
    assert status["shift (2, 0)"] == status["shift (0, 2)"] == "pass", str(report)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_Rounded, "the gradients show no dependence"),  # no gradient: no reach, so no mask
        (_OneSize, "it fails on 15x15"),
    ],
)
def test_shifts_through_upsampling_that_cannot_be_compared_are_skipped(make, reason):
    torch.manual_seed(0)
    report = equivariance_report(make().eval(), in_type=1, size=16, group=eqcnn.Trivial(), baseline=None)
    shifts = [r for r in report.rows if r.transform.startswith("shift")]
    assert shifts and all(r.status == "skip" and reason in r.note for r in shifts), str(report)


def test_a_failing_rotation_through_output_padding_is_explained():
    up = enn.ConvTranspose2d(C4.regular(1), C4.regular(1), 5, stride=2, padding=2, output_padding=1)
    report = equivariance_report(up, size=9, baseline=None)
    assert not report.passed
    assert any("adds output padding (1, 1)" in n and "use output_padding=0" in n for n in report.notes)
    # without output padding the same layer is exact, and nothing is noted
    clean = equivariance_report(enn.ConvTranspose2d(C4.regular(1), C4.regular(1), 5, stride=2, padding=2), size=9)
    assert clean.passed and not clean.notes


class _CustomUNet(nn.Module):
    """A U-Net as a custom module (not a Sequential): a skip connection around a pool and an upsampling."""

    def __init__(self, ramp: bool = False):
        super().__init__()
        self.enc, self.dec, self.ramp = nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(4, 1, 3, padding=1), ramp

    def forward(self, x):
        a = self.enc(x)
        b = nn.functional.interpolate(nn.functional.max_pool2d(a, 2), scale_factor=2)
        y = self.dec(torch.cat([a, b], 1))
        return y * torch.linspace(1, 2, y.shape[-1]) if self.ramp else y


def test_a_custom_unet_is_compared_at_its_period_and_a_broken_one_fails():
    torch.manual_seed(0)
    good = equivariance_report(_CustomUNet(), in_type=1, size=24, group=eqcnn.Trivial(), baseline=None)
    assert [(r.transform, r.status) for r in good.rows] == [
        ("shift (2, 0)", "pass"), ("shift (0, 2)", "pass"), ("shift (-2, 4)", "pass"),
    ]  # fmt: skip
    bad = equivariance_report(_CustomUNet(ramp=True), in_type=1, size=24, group=eqcnn.Trivial(), baseline=None)
    assert {r.transform: r.status for r in bad.rows}["shift (0, 2)"] == "FAIL"
