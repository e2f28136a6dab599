"""U-Nets through the harness: the shifts they follow are read from their pools, whatever their output size."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import eqcnn
from eqcnn.testing import assert_equivariant, equivariance_report
from eqcnn.testing._upsampled_shift import internal_period


def _report(model, **kw):
    kw.setdefault("group", eqcnn.Trivial())
    kw.setdefault("baseline", None)
    kw.setdefault("in_type", 1)
    return equivariance_report(model.eval(), **kw)


def _rows(report):
    return {r.transform: (r.status, r.note) for r in report.rows}


class PadUNet(nn.Module):
    """Upsampled maps padded (or resized) to the skip connection's size: the output is the input's size at
    every size, so sizes show no period, yet it follows shifts by its levels' pools only."""

    def __init__(self, levels=1, how="pad", ramp=False, guard=False):
        super().__init__()
        self.levels, self.how, self.ramp, self.guard = levels, how, ramp, guard
        self.enc = nn.ModuleList(nn.Conv2d(1 if i == 0 else 4, 4, 3, padding=1) for i in range(levels + 1))
        self.dec = nn.ModuleList(nn.Conv2d(8, 4, 3, padding=1) for _ in range(levels))
        self.out = nn.Conv2d(4, 1, 1)

    def forward(self, x):
        if self.guard:
            assert x.shape[-1] % 2 == 0, "even sizes only"  # a user's own guard in forward
        skips = []
        for i, conv in enumerate(self.enc):
            x = torch.relu(conv(x if i == 0 else F.max_pool2d(x, 2)))
            skips.append(x)
        for conv, skip in zip(self.dec, reversed(skips[:-1])):
            if self.how == "pad":
                up = F.interpolate(x, scale_factor=2)
                dy, dx = skip.shape[-2] - up.shape[-2], skip.shape[-1] - up.shape[-1]
                up = F.pad(up, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            else:
                up = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = torch.relu(conv(torch.cat([skip, up], 1)))
        y = self.out(x)
        return y * torch.linspace(1, 2, y.shape[-1]) if self.ramp else y


@pytest.mark.parametrize("levels, period", [(1, 2), (2, 4), (4, 16)])
def test_internal_period_is_read_from_the_feature_maps(levels, period):
    x = torch.zeros(1, 1, 40, 40)
    assert internal_period(PadUNet(levels).eval(), x, lambda m, t: m(t)) == period
    plain = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1))
    assert internal_period(plain, x, lambda m, t: m(t)) == 1
    pooled = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.AdaptiveAvgPool2d(1))  # fixed sizes do not count
    assert internal_period(pooled, x, lambda m, t: m(t)) == 2


@pytest.mark.parametrize("how", ["pad", "resize"])
@pytest.mark.parametrize("size", [None, 33, 34])
def test_a_unet_that_keeps_the_input_size_is_compared_at_its_pools_period(how, size):
    # sizes say p = 1 here; shifts by 1 cross the pool's phases and failed a correct model (at 34 the stride
    # read from two neighbouring pixels sent it down the plain path, with a field too small for both phases)
    torch.manual_seed(0)
    report = _report(PadUNet(how=how), size=size)
    assert _rows(report) == {
        "shift (2, 0)": ("pass", ""), "shift (0, 2)": ("pass", ""), "shift (-2, 4)": ("pass", ""),
    }, str(report)  # fmt: skip
    broken = _report(PadUNet(how=how, ramp=True), size=size)
    assert _rows(broken)["shift (0, 2)"][0] == "FAIL", str(broken)


def test_a_deep_unet_gets_a_default_size_it_can_be_judged_at():
    # four levels: the feature maps are 16 times smaller at the bottom, shifts by 16 are followed, and the
    # default input is large enough to leave pixels clear of the windows' borders
    torch.manual_seed(0)
    report = _report(PadUNet(levels=4))
    assert report.input_shape[-1] >= 128
    assert _rows(report) == {
        "shift (16, 0)": ("pass", ""), "shift (0, 16)": ("pass", ""), "shift (-16, 32)": ("pass", ""),
    }, str(report)  # fmt: skip
    two = _report(PadUNet(levels=2))  # at the old default (33) every shift was skipped: nothing judged
    assert [r.status for r in two.rows] == ["pass"] * 3, str(two)


def test_a_guard_on_the_input_size_in_forward_is_the_models_refusal_not_a_fixed_grid():
    # an AssertionError (or TypeError) at an odd size escaped the size probe, and the model was called
    # "a fixed output size" with nothing judged
    torch.manual_seed(0)
    report = _report(PadUNet(guard=True))
    assert report.input_shape[-1] % 2 == 0
    assert [r.status for r in report.rows] == ["pass"] * 3, str(report)


class StridedUNet(nn.Module):
    """A strided conv down, a transposed conv up, a concatenated skip: runs on even sizes only, and no size
    is exact for the strided conv, so the default size comes from the fallback (it crashed at 33)."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(1, 4, 3, padding=1)
        self.down = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(4, 4, 4, stride=2, padding=1)
        self.out = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, x):
        a = torch.relu(self.enc(x))
        return self.out(torch.cat([a, self.up(torch.relu(self.down(a)))], 1))


def test_the_default_size_is_one_the_model_runs_at():
    torch.manual_seed(0)
    report = _report(StridedUNet())
    assert report.input_shape[-1] % 2 == 0
    assert [r.status for r in report.rows] == ["pass"] * 3, str(report)


class GlobalStatsUNet(nn.Module):
    """Instance normalisation: every output pixel depends on the whole input, at any size."""

    def __init__(self, padding_mode="zeros"):
        super().__init__()
        self.a = nn.Conv2d(1, 4, 3, padding=1, padding_mode=padding_mode)
        self.b = nn.Conv2d(8, 1, 3, padding=1, padding_mode=padding_mode)

    def forward(self, x):
        a = F.instance_norm(self.a(x))
        return self.b(torch.cat([a, F.interpolate(F.max_pool2d(a, 2), scale_factor=2)], 1))


def test_global_statistics_are_named_and_circular_shifts_compare_them():
    torch.manual_seed(0)
    crop = _report(GlobalStatsUNet(), size=34)
    status, note = _rows(crop)["shift (2, 0)"]
    assert status == "skip"
    assert "depends on the whole input, at 34x34 and at 68x68" in note and "a larger input does not help" in note
    assert "shift_mode='circular'" in note
    # 'auto' does not roll images through upsampling (interpolation may clamp at the borders) ...
    auto = _report(GlobalStatsUNet("circular"), size=34)
    assert "crop" in auto.shift_mode and _rows(auto)["shift (2, 0)"][0] == "skip"
    # ... but asked for, rolled images are compared whole, and a correct circular model passes
    circ = _report(GlobalStatsUNet("circular"), size=34, shift_mode="circular")
    assert circ.shift_mode == "circular"
    assert [r.status for r in circ.rows] == ["pass"] * 3, str(circ)
    with pytest.raises(AssertionError, match="FAIL"):
        broken = GlobalStatsUNet("circular")
        broken.b.padding_mode = "zeros"  # the border is no longer wrapped
        assert_equivariant(
            broken.eval(), in_type=1, group=eqcnn.Trivial(), baseline=None, size=34, shift_mode="circular"
        )


def test_too_small_an_input_says_what_size_would_do():
    torch.manual_seed(0)
    report = _report(PadUNet(levels=2), size=36)
    status, note = _rows(report)["shift (4, 0)"]
    assert status == "skip" and "use an input of at least" in note, note
    need = int(note.rsplit("at least ", 1)[1].split(" px")[0])
    bigger = _report(PadUNet(levels=2), size=need + need % 4)
    assert _rows(bigger)["shift (4, 0)"][0] == "pass", str(bigger)


class _Pool3UNet(nn.Module):
    """``levels`` max pools of 3, nearest upsampling back, padded to the skip connection's size."""

    def __init__(self, levels):
        super().__init__()
        self.levels = levels
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        skips = []
        for _ in range(self.levels):
            x = torch.relu(self.conv(x))
            skips.append(x)
            x = F.max_pool2d(x, 3)
        for skip in reversed(skips):
            up = F.interpolate(x, scale_factor=3)
            dy, dx = skip.shape[-2] - up.shape[-2], skip.shape[-1] - up.shape[-1]
            x = skip + F.pad(up, [0, dx, 0, dy])
        return x


@pytest.mark.parametrize("levels, period", [(2, 9), (3, 27)])
def test_internal_periods_of_pools_by_three(levels, period):
    # read on the meta device with 3456 = 2^7 3^3 more pixels: 96 more read 3 levels of 3 as 24 or 96
    for n in (64, 100):
        assert internal_period(_Pool3UNet(levels), torch.zeros(1, 1, n, n), lambda m, t: m(t)) == period
    assert internal_period(PadUNet(levels=6), torch.zeros(1, 1, 64, 64), lambda m, t: m(t)) == 64


class _WidthChecker(nn.Module):
    """A conv with stride (2, 1), and (if ``bug``) a gain that alternates along the width."""

    def __init__(self, bug):
        super().__init__()
        self.conv, self.bug = nn.Conv2d(1, 1, 3, stride=(2, 1), padding=1), bug

    def forward(self, x):
        y = self.conv(x)
        return y * (1 + (torch.arange(y.shape[-1]) % 2)) if self.bug else y


def test_an_anisotropic_stride_is_not_a_unet():
    # the maps are 2x smaller along the height only: that is the output's stride there, not a U-Net's
    # period along both axes (which skipped the odd shifts along the width and passed the bug)
    from eqcnn.testing._upsampled_shift import internal_periods

    assert internal_periods(_WidthChecker(False), torch.zeros(1, 1, 33, 33), lambda m, t: m(t)) == (2, 1)
    good = _report(_WidthChecker(False))
    assert good.receptive_field.stride == (2, 1) and not good.receptive_field.is_upsampling
    assert [r.status for r in good.rows] == ["pass"] * 3, str(good)
    bad = _report(_WidthChecker(True))
    assert _rows(bad)["shift (0, 1)"][0] == "FAIL", str(bad)


class _Spectral(nn.Module):
    """A Fourier layer (circular by construction): rfft2's (H, W // 2 + 1) spectrum is not a smaller map."""

    def __init__(self, bug):
        super().__init__()
        self.mix, self.bug = nn.Conv2d(1, 1, 1), bug

    def forward(self, x):
        y = torch.fft.irfft2(torch.fft.rfft2(x) * 0.5, s=x.shape[-2:]) + self.mix(x)
        if self.bug:
            y = y * (1 + (torch.arange(y.shape[-2])[:, None] + torch.arange(y.shape[-1])) % 2)
        return y


def test_complex_spectra_do_not_count_as_feature_maps():
    good = _report(_Spectral(False), shift_mode="circular")
    assert not good.receptive_field.is_upsampling
    assert [r.status for r in good.rows] == ["pass"] * 3, str(good)
    bad = _report(_Spectral(True), size=34, shift_mode="circular")
    assert [r.status for r in bad.rows] == ["FAIL"] * 3, str(bad)


def test_circular_shifts_through_upsampling_need_an_output_that_tiles_the_input():
    # a 2x pool then a 2x upsampling: 33 px give 32, which does not tile 33 (the rolled output is not the
    # output of the rolled input); 34 px do
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular"), nn.MaxPool2d(2), nn.Upsample(scale_factor=2)
    )
    odd = _report(net, size=33, shift_mode="circular")
    status, note = _rows(odd)["shift (2, 0)"]
    assert status == "skip" and "tile the input: the output is 32x32 on 33x33" in note, note
    even = _report(net, size=34, shift_mode="circular")
    assert [r.status for r in even.rows] == ["pass"] * 3, str(even)
    strided = nn.Conv2d(1, 1, 3, stride=2, padding=1, padding_mode="circular")
    status, note = _rows(_report(strided, size=5, shift_mode="circular"))["shift (2, 0)"]
    assert status == "skip" and "the output is 3x3 on 5x5, not 1/2 x 1/2 of it" in note, note
