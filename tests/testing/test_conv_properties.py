"""Property tests of eqcnn.nn.Conv2d with the harness and its hypothesis strategies.

Exact (float32 relative error < 1e-5) for every 90-degree rotation in G and
every flip in Dihedral(N): lifting (trivial -> regular), group (regular ->
regular), irreps fields, projection to invariants; odd and even sizes;
dilation 1 and 2; stride 2 where the sampled grid is symmetric; any circular
shift with padding_mode="circular", and shifts by multiples of the stride in
the valid region with zero padding.
"""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import TOLERANCES, band_limited_noise, equivariance_error, equivariance_report
from eqcnn.testing import strategies as est

FIXTURES = settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


def _build(case, device, dtype=torch.float32):
    try:
        conv = enn.Conv2d(case.in_type, case.out_type, **case.config.kwargs())
    except ValueError as e:  # no equivariant filter between these types at this size
        assert "no equivariant" in str(e)
        return None
    return conv.to(device=device, dtype=dtype)


def _exact_elements(G):
    return [g for g in G.elements if g.quarter_turns is not None and g != G.identity]


KINDS = {
    "lifting": (("trivial",), ("regular",)),
    "group": (("regular",), ("regular",)),
    "irreps": (("irrep",), ("irrep",)),
    "invariant": (("regular", "irrep"), ("trivial",)),
}


@pytest.mark.parametrize("kind", list(KINDS))
@FIXTURES
@given(data=st.data())
def test_exact_on_grid_symmetries(kind, data, device):
    ins, outs = KINDS[kind]
    # 5x5 regular -> regular bases of the large groups take seconds to build once; 3x3 covers the case
    kernels = (3,) if kind == "group" else (3, 5)
    configs = est.conv_configs(kernel_sizes=kernels)
    case = data.draw(est.conv_cases(in_kinds=ins, out_kinds=outs, config_strategy=configs, max_size=14))
    conv = _build(case, device)
    if conv is None:
        return
    x = band_limited_noise((1, case.in_type.size, case.size, case.size), seed=data.draw(st.integers(0, 99)))
    for g in _exact_elements(case.group):
        r = equivariance_error(conv, x.to(device), g)
        assert r.rel_l2 < TOLERANCES[torch.float32], (case, g, r)


@FIXTURES
@given(data=st.data())
def test_any_circular_shift(data, device):
    cfg = data.draw(est.conv_configs(kernel_sizes=(3, 5), strides=(1,), padding_modes=("circular",)))
    G = data.draw(est.groups(max_n=6))
    t_in = data.draw(est.field_types(G, max_fields=2, max_channels=12))
    t_out = data.draw(est.field_types(G, max_fields=2, max_channels=12))
    n = data.draw(est.input_sizes(cfg, max_size=16, circular_shifts=True))
    dy, dx = data.draw(st.integers(-n, n)), data.draw(st.integers(-n, n))
    conv = _build(est.ConvCase(G, t_in, t_out, cfg, n), device)
    if conv is None:
        return
    x = band_limited_noise((1, t_in.size, n, n)).to(device)
    r = equivariance_error(conv, x, (dy, dx))
    assert r.compared == t_out.size * n * n and r.rel_l2 < 1e-5


@FIXTURES
@given(data=st.data())
def test_shifts_by_the_stride_in_the_valid_region(data, device):
    cfg = data.draw(est.conv_configs(kernel_sizes=(3, 5), strides=(1, 2), padding_modes=("zeros",)))
    G = data.draw(est.groups(max_n=4))
    # big enough that, after cropping by the shift, a few output pixels never see padding
    n = data.draw(est.input_sizes(cfg, min_size=cfg.extent + 4 * cfg.stride + 2, max_size=24, exact_rotations=False))
    k = data.draw(st.sampled_from([(1, 0), (0, -1), (1, 1), (-2, 1)]))
    conv = _build(est.ConvCase(G, G.trivial(1), G.regular(1), cfg, n), device)
    x = band_limited_noise((1, 1, n, n)).to(device)
    r = equivariance_error(conv, x, (k[0] * cfg.stride, k[1] * cfg.stride))
    assert r.rel_l2 < 1e-5


@pytest.mark.parametrize("N", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("family", [eqcnn.Cyclic, eqcnn.Dihedral])
@pytest.mark.parametrize(("size", "dilation"), [(11, 1), (12, 1), (11, 2), (12, 2)])
def test_each_group_family_every_exact_element(family, N, size, dilation):
    _check_family(family(N), size, dilation, torch.float32)


@pytest.mark.parametrize("G", [eqcnn.Trivial(), eqcnn.Cyclic(4), eqcnn.Dihedral(4)], ids=repr)
def test_every_dtype(G, dtype):
    _check_family(G, 10, 1, dtype)


def _check_family(G, size, dilation, dtype):
    conv = enn.Conv2d(G.regular(1), G.regular(1), 3, padding=dilation, dilation=dilation).to(dtype)
    report = equivariance_report(conv, size=size, baseline=None, shifts=[(1, 0), (-2, 3)])
    exact = [r for r in report.rows if r.kind == "exact"]
    assert len(exact) == len(_exact_elements(G)) + 2
    assert all(r.status == "pass" for r in exact), str(report)


def test_stride_two_exact_only_on_symmetric_grids():
    G = eqcnn.Dihedral(4)
    conv = enn.Conv2d(G.trivial(1), G.regular(1), 3, stride=2, padding=1)
    cfg = est.ConvConfig(3, 2, 1)
    for n in (9, 10, 11, 12):
        report = equivariance_report(conv, size=n, baseline=None)
        rot = [r for r in report.rows if r.transform.startswith("rot")]
        assert all(r.status == "pass" for r in rot) == cfg.samples_symmetric_grid(n), (n, str(report))


def test_off_grid_angles_beat_the_plain_cnn():
    torch.manual_seed(0)
    G = eqcnn.Cyclic(8)
    conv = enn.Conv2d(G.trivial(1), G.regular(2), 5, padding=2)
    report = equivariance_report(conv, size=21)
    approx = [r for r in report.rows if r.kind == "approx"]
    assert len(approx) == 4 and all(r.status == "pass" for r in approx), str(report)
