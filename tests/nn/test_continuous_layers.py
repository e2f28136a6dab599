"""The layer zoo over SO(2) and O(2): exact at the quarter turns (and mirrors), exported, scripted, pickled."""

from __future__ import annotations

import pickle

import pytest
import torch
from equivariance_check import check_equivariant, relative_error

import eqcnn
from eqcnn import nn as enn

GROUPS = [eqcnn.SO2(2), eqcnn.O2(2)]


def bl(G, n=2):
    return G.bl_regular(n)


def vec(G):
    return eqcnn.FieldType(G, [G.irreps()[-1], G.irreps()[1]]) + G.trivial(1)


CONTINUOUS_ZOO = [
    ("Conv2d", lambda G: enn.Conv2d(G.trivial(1) + bl(G, 1), bl(G) + vec(G), 5, padding=2)),
    ("Conv2d-escnn-basis", lambda G: enn.Conv2d(bl(G, 1), bl(G), 5, padding=2, basis="escnn")),
    ("ConvTranspose2d", lambda G: enn.ConvTranspose2d(bl(G, 1), bl(G), 5, padding=2)),
    ("FourierELU", lambda G: enn.FourierELU(bl(G))),
    ("FourierPointwise-relu-N32", lambda G: enn.FourierPointwise(bl(G) + vec(G), "relu", N=32)),
    ("NormNonlinearity", lambda G: enn.NormNonlinearity(bl(G) + vec(G))),
    ("GatedNonlinearity", lambda G: enn.GatedNonlinearity(enn.GatedNonlinearity.input_type(bl(G) + vec(G)))),
    ("BatchNorm2d", lambda G: enn.BatchNorm2d(bl(G) + vec(G))),
    ("BatchNorm2d-eval", lambda G: enn.BatchNorm2d(bl(G) + vec(G)).eval()),
    ("GroupNorm", lambda G: enn.GroupNorm(1, bl(G))),
    ("AvgPool2d", lambda G: enn.AvgPool2d(bl(G), 3, stride=2, padding=1)),
    ("BlurPool2d", lambda G: enn.BlurPool2d(bl(G), stride=2)),
    ("AdaptiveAvgPool2d", lambda G: enn.AdaptiveAvgPool2d(bl(G), 3)),
    ("GaussianAvgPool2d", lambda G: enn.GaussianAvgPool2d(bl(G))),
    ("Upsample", lambda G: enn.Upsample(bl(G), scale_factor=2)),
    ("NormPool", lambda G: enn.NormPool(bl(G) + vec(G))),
    ("FieldDropout-eval", lambda G: enn.FieldDropout(bl(G), 0.5).eval()),
    ("Identity", lambda G: enn.Identity(bl(G))),
    ("Restrict-C4", lambda G: enn.Restrict(bl(G) + vec(G), eqcnn.Cyclic(4))),
    ("Restrict-sub", lambda G: enn.Restrict(bl(G), eqcnn.Dihedral(8) if G.has_reflections else eqcnn.Cyclic(6))),
    (
        "Sequential",
        lambda G: enn.Sequential(
            enn.Conv2d(G.trivial(1), bl(G), 5, padding=2, bias=False),
            enn.BatchNorm2d(bl(G)),
            enn.FourierELU(bl(G)),
            enn.Conv2d(bl(G), bl(G), 3, padding=1),
            enn.NormPool(bl(G)),
        ),
    ),
]
ODD_ONLY = {"AvgPool2d", "BlurPool2d"}
IDS = [n for n, _ in CONTINUOUS_ZOO]


@pytest.mark.parametrize("group", GROUPS, ids=repr)
@pytest.mark.parametrize(("name", "factory"), CONTINUOUS_ZOO, ids=IDS)
@pytest.mark.parametrize("size", [9, 10])
def test_exact_at_the_quarter_turns_and_mirrors(name, factory, group, size):
    if name in ODD_ONLY and size % 2 == 0:
        pytest.skip("stride 2 is exact on odd sizes only")
    torch.manual_seed(0)
    layer = factory(group)
    x = torch.randn(2, layer.in_type.size, size, size)
    check_equivariant(layer, x)


@pytest.mark.parametrize("group", GROUPS, ids=repr)
@pytest.mark.parametrize(("name", "factory"), CONTINUOUS_ZOO, ids=IDS)
def test_export_script_pickle_and_state_dict(name, factory, group):
    torch.manual_seed(0)
    layer = factory(group).eval()
    x = torch.randn(2, layer.in_type.size, 9, 9)
    y = layer(x)
    plain = enn.export(layer)
    assert not any(isinstance(m, enn.EquivariantModule) for m in plain.modules())
    assert relative_error(plain(x), y) < 1e-6
    assert relative_error(torch.jit.script(plain)(x), y) < 1e-6
    again = pickle.loads(pickle.dumps(layer))
    assert relative_error(again(x), y) < 1e-6
    keys_eval = list(layer.state_dict())
    assert list(layer.train().state_dict()) == keys_eval


def test_a_state_dict_of_another_band_limit_is_refused_naming_both_types():
    a = enn.Conv2d(eqcnn.SO2(2).trivial(1), eqcnn.SO2(2).bl_regular(1), 5)
    b = enn.Conv2d(eqcnn.SO2(3).trivial(1), eqcnn.SO2(3).irreps_field(2, multiplicity=2) + eqcnn.SO2(3).trivial(1), 5)
    with pytest.raises(
        Exception,
        match=r"SO2\(max_frequency=2\).*SO2\(max_frequency=3\)|SO2\(max_frequency=3\).*SO2\(max_frequency=2\)",
    ):
        b.load_state_dict(a.state_dict())


def test_compiled_continuous_model_matches():
    torch.manual_seed(0)
    G = eqcnn.SO2(2)
    model = dict(CONTINUOUS_ZOO)["Sequential"](G).eval()
    x = torch.randn(2, 1, 13, 13)
    compiled = torch.compile(model, backend="eager")
    assert relative_error(compiled(x), model(x)) < 1e-6


@pytest.mark.parametrize(("name", "factory"), CONTINUOUS_ZOO, ids=IDS)
def test_on_the_device_matches_the_cpu(name, factory, device, dtype):
    # (on the CUDA matrix with --eqcnn-device=cuda; TF32 off so the comparison is float32's)
    from eqcnn.testing import no_tf32, tolerance

    torch.manual_seed(0)
    G = eqcnn.O2(2)
    layer = factory(G).eval().to(dtype=dtype)
    x = torch.randn(2, layer.in_type.size, 9, 9, dtype=dtype)  # made on the CPU, then moved
    with no_tf32():
        want = layer(x)
        got = layer.to(device)(x.to(device)).cpu()
    assert relative_error(got, want) < 10 * tolerance(dtype)
