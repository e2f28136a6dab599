"""load_escnn_weights: trained escnn models into eqcnn models of the same architecture."""

import copy

import pytest
import torch

import eqcnn
from eqcnn import nn as qnn
from eqcnn.testing import tolerance

pytestmark = pytest.mark.escnn
pytest.importorskip("escnn", exc_type=ImportError)
ie = pytest.importorskip("eqcnn.interop.escnn", exc_type=ImportError)
from escnn import nn as enn  # noqa: E402

# escnn's documentation model (its README's C8 "C8SteerableCNN"), narrower: a 7x7 lifting conv, five 5x5
# convs with batch norm and ReLU, average pools, group pooling, a fully connected head with batch norm.
# (escnn's example masks the input to a disk and pools with PointwiseAvgPoolAntialiased; eqcnn has
# neither layer, and neither has weights: plain average pools here, which both libraries compute alike.)
SPEC = [(7, 1), (5, 2), "pool", (5, 2), (5, 2), "pool", (5, 2), (5, 1), "last"]
WIDTHS = (3, 4, 4, 4, 4, 4)


class EscnnNet(torch.nn.Module):
    def __init__(self, gspace, widths=WIDTHS, bias=False):
        super().__init__()
        cur = enn.FieldType(gspace, [gspace.trivial_repr])
        layers, i = [], 0
        for s in SPEC:
            if s in ("pool", "last"):
                layers.append(enn.PointwiseAvgPool(cur, 2 if s == "pool" else 3))
                continue
            out = enn.FieldType(gspace, widths[i] * [gspace.regular_repr])
            i += 1
            layers += [enn.R2Conv(cur, out, s[0], padding=s[1], bias=bias), enn.InnerBatchNorm(out), enn.ReLU(out)]
            cur = out
        layers.append(enn.GroupPooling(cur))
        self.body = enn.SequentialModule(*layers)
        self.head = torch.nn.Sequential(
            torch.nn.Linear(widths[-1], 16), torch.nn.BatchNorm1d(16), torch.nn.ELU(), torch.nn.Linear(16, 10)
        )

    def forward(self, x):
        y = self.body(enn.GeometricTensor(x, self.body.in_type)).tensor
        return self.head(y.flatten(1))


def eqcnn_net(G, basis="escnn", widths=WIDTHS, bias=False):
    cur, layers, i = G.trivial(1), [], 0
    for s in SPEC:
        if s in ("pool", "last"):
            layers.append(qnn.AvgPool2d(cur, 2 if s == "pool" else 3))
            continue
        out = G.regular(widths[i])
        i += 1
        layers += [qnn.Conv2d(cur, out, s[0], padding=s[1], bias=bias, basis=basis), qnn.BatchNorm2d(out)]
        layers.append(qnn.ReLU(out))
        cur = out
    layers.append(qnn.GroupPool(cur))
    return torch.nn.Sequential(
        qnn.Sequential(*layers),
        torch.nn.Flatten(),
        torch.nn.Linear(widths[-1], 16),
        torch.nn.BatchNorm1d(16),
        torch.nn.ELU(),
        torch.nn.Linear(16, 10),
    )


def trained_escnn(G, **kw):
    """An escnn model with non-trivial weights and running statistics (a few SGD steps on random data)."""
    torch.manual_seed(1)
    net = EscnnNet(ie.gspace_of(G), **kw)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    x, labels = torch.randn(8, 1, 29, 29), torch.randint(0, 10, (8,))
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), labels).backward()
        opt.step()
    return net.eval()


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize(
    ("G", "basis"),
    [
        (eqcnn.Cyclic(8), "escnn"),
        (eqcnn.Dihedral(4), "escnn"),
        (eqcnn.Dihedral(4), "pixel"),
        (eqcnn.Cyclic(4), "pixel"),
    ],
    ids=["C8-escnn", "D4-escnn", "D4-pixel", "C4-pixel"],
)
def test_a_trained_escnn_model_loads_and_computes_the_same(G, basis):
    theirs = trained_escnn(G)
    before = copy.deepcopy(theirs.state_dict())
    mine = eqcnn_net(G, basis)
    report = ie.load_escnn_weights(mine, theirs)
    assert [r.kind for r in report.layers] == ["Conv2d", "BatchNorm2d"] * 6 + [
        "torch.Linear",
        "torch.BatchNorm1d",
        "torch.Linear",
    ]
    assert report.max_residual < 1e-6 and report.max_output_error < tolerance(torch.float32)
    x = torch.randn(4, 1, 29, 29)
    mine.eval()
    with torch.no_grad():
        assert rel(mine(x), theirs(x)) < tolerance(torch.float32)
    # escnn's model is left as it was (weights, statistics, mode)
    assert not theirs.training
    assert all(torch.equal(v, before[k]) for k, v in theirs.state_dict().items())
    text = str(report)
    assert "body.1" in text and "0.0" in text and "15 layers loaded" in text


def test_biases_and_mixed_fields_and_transposed_convs_load():
    G = eqcnn.Dihedral(4)
    t_in = G.trivial(1) + G.regular(2)
    t_out = G.regular(1) + G.trivial(2) + G.regular(1)
    theirs = enn.SequentialModule(
        enn.R2Conv(ie.to_escnn_type(t_in), ie.to_escnn_type(t_out), 5, padding=2, bias=True),
        enn.R2ConvTransposed(ie.to_escnn_type(t_out), ie.to_escnn_type(t_in), 3, stride=2, padding=1, bias=True),
    )
    torch.manual_seed(0)
    for p in theirs.parameters():
        torch.nn.init.normal_(p)
    mine = qnn.Sequential(
        qnn.Conv2d(t_in, t_out, 5, padding=2, basis="escnn"),
        qnn.ConvTranspose2d(t_out, t_in, 3, stride=2, padding=1, basis="escnn"),
    )
    report = ie.load_escnn_weights(mine, theirs)
    assert [r.kind for r in report.layers] == ["Conv2d", "ConvTranspose2d"]
    assert report.max_residual < 1e-6
    x = torch.randn(2, t_in.size, 11, 11)
    theirs.eval()
    with torch.no_grad():
        ref = theirs(enn.GeometricTensor(x, theirs.in_type)).tensor
        assert rel(mine(x), ref) < tolerance(torch.float32)


def test_the_default_basis_is_refused_naming_the_layer_and_nothing_is_written():
    theirs = trained_escnn(eqcnn.Cyclic(8))
    mine = eqcnn_net(eqcnn.Cyclic(8), "harmonic")
    before = copy.deepcopy(mine.state_dict())
    with pytest.raises(
        ValueError,
        match=r"eqcnn `0\.0` / escnn `body\.0` \(Conv2d\): the relative residual of escnn's parameters on eqcnn's is "
        r"[0-9.e-]+, above `tolerance` \(=1e-05\); build it with basis='escnn' \(it has basis='harmonic'\)",
    ):
        ie.load_escnn_weights(mine, theirs)
    assert all(torch.equal(v, before[k]) for k, v in mine.state_dict().items() if isinstance(v, torch.Tensor))
    # a caller who accepts the approximation raises the tolerance, and sees what it costs
    report = ie.load_escnn_weights(mine, theirs, tolerance=0.2)
    assert 1e-3 < report.max_residual < 0.2 and report.max_output_error > 1e-4


def test_mismatched_architectures_are_refused_naming_the_layers():
    G = eqcnn.Cyclic(8)
    theirs = trained_escnn(G)
    with pytest.raises(ValueError, match=r"different numbers of layers with parameters: eqcnn 14 .*, escnn 15"):
        ie.load_escnn_weights(torch.nn.Sequential(*list(eqcnn_net(G))[:-1]), theirs)
    wider = eqcnn_net(G, widths=(3, 5, 4, 4, 4, 4))
    with pytest.raises(
        ValueError, match=r"eqcnn `0\.3` / escnn `body\.3`: `out_type` differs: eqcnn has Cyclic\(8\)\.regular\(5\), "
    ):
        ie.load_escnn_weights(wider, theirs)
    mine = eqcnn_net(G)
    mine[0][0] = qnn.Conv2d(G.trivial(1), G.regular(3), 7, padding=2, bias=False, basis="escnn")
    with pytest.raises(ValueError, match=r"`padding` differs: eqcnn has \(2, 2\), escnn has \(1, 1\)"):
        ie.load_escnn_weights(mine, theirs)
    mine = eqcnn_net(G)
    mine[0][1] = qnn.ReLU(G.regular(3))  # a batch norm missing: the pairs shift and the kinds disagree
    mine[0][2] = qnn.BatchNorm2d(G.regular(3))
    with pytest.raises(ValueError, match=r"different numbers of layers"):
        ie.load_escnn_weights(torch.nn.Sequential(*list(mine)[:-1]), theirs)


def test_layers_without_a_mapping_are_refused_by_name():
    G = eqcnn.Cyclic(4)
    ours = eqcnn.FieldType(G, [G.irrep(1)] * 2)
    t = ie.to_escnn_type(ours)
    theirs = enn.SequentialModule(enn.R2Conv(t, t, 3), enn.FieldDropout(t), enn.NormBatchNorm(t))
    mine = qnn.Sequential(qnn.Conv2d(ours, ours, 3, basis="escnn"))
    message = r"the escnn layer `2` \(NormBatchNorm\) holds .*not a layer whose weights map"
    with pytest.raises(ValueError, match=message):
        ie.load_escnn_weights(mine, theirs)


def test_bad_arguments():
    G = eqcnn.Cyclic(4)
    conv = qnn.Conv2d(G.regular(1), G.regular(1), 3)
    with pytest.raises(TypeError, match=r"`module` must be an eqcnn model \(a torch.nn.Module\), got int"):
        ie.load_escnn_weights(3, conv)
    with pytest.raises(TypeError, match=r"`escnn_module` must be an escnn model \(a torch.nn.Module\), got str"):
        ie.load_escnn_weights(conv, "model.pt")
    with pytest.raises(ValueError, match=r"`tolerance` must be a positive number, got -1"):
        ie.load_escnn_weights(conv, conv, tolerance=-1)


def test_a_failure_after_the_checks_writes_nothing_and_dilation_is_handled():
    # the second layer's dilated 5x5 filter (17 pixels wide) needs a probe larger than 2k + 5
    G = eqcnn.Cyclic(4)
    t = G.regular(1)
    theirs = enn.SequentialModule(
        enn.R2Conv(ie.to_escnn_type(t), ie.to_escnn_type(t), 3, padding=1),
        enn.R2Conv(ie.to_escnn_type(t), ie.to_escnn_type(t), 5, padding=8, dilation=4),
    )
    mine = qnn.Sequential(qnn.Conv2d(t, t, 3, padding=1, basis="pixel"), qnn.Conv2d(t, t, 5, padding=8, dilation=4))
    before = copy.deepcopy(mine.state_dict())
    with pytest.raises(ValueError, match=r"eqcnn `1` / escnn `1` \(Conv2d\): the relative residual"):
        ie.load_escnn_weights(mine, theirs)
    assert all(torch.equal(v, before[k]) for k, v in mine.state_dict().items() if isinstance(v, torch.Tensor))
    mine[1] = qnn.Conv2d(t, t, 5, padding=8, dilation=4, basis="pixel")  # the pixel basis holds any C4 filter
    # (escnn's dilated filter is float32 samples of Gaussians reaching 8 pixels out: 1.4e-5 of rounding)
    assert ie.load_escnn_weights(mine, theirs, tolerance=1e-4).max_output_error < 1e-4
    mine[1] = qnn.Conv2d(t, t, 5, padding=8, dilation=4, basis="escnn")
    with pytest.raises(ValueError, match=r"escnn scales its rings with `dilation` \(=\(4, 4\)\), which basis='escnn'"):
        ie.load_escnn_weights(mine, theirs)


def test_buffers_only_layers_in_float64_and_same_padding():
    G = eqcnn.Cyclic(4)
    t = G.regular(2)
    theirs = enn.SequentialModule(
        enn.R2Conv(ie.to_escnn_type(t), ie.to_escnn_type(t), 3, padding=1),
        enn.InnerBatchNorm(ie.to_escnn_type(t), affine=False),
    )
    theirs = copy.deepcopy(theirs).double()  # in place, .double() converts escnn's shared basis cache
    mine = qnn.Sequential(qnn.Conv2d(t, t, 3, padding="same", basis="pixel"), qnn.BatchNorm2d(t, affine=False))
    report = ie.load_escnn_weights(mine.double(), theirs)
    assert report.max_output_error < tolerance(torch.float64) * 1e3  # escnn's basis is sampled in float32


def test_a_non_contiguous_batch_norm_is_refused_by_name():
    G = eqcnn.Cyclic(4)
    t = G.regular(1) + G.trivial(2) + G.regular(1)
    theirs = enn.SequentialModule(enn.InnerBatchNorm(ie.to_escnn_type(t)))
    with pytest.raises(
        ValueError, match=r"eqcnn `0` / escnn `0`: escnn cannot export this batch norm .*not contiguous"
    ):
        ie.load_escnn_weights(qnn.Sequential(qnn.BatchNorm2d(t)), theirs)


def test_the_ordinary_cnn_loads_bit_for_bit():
    # Trivial(): the pixel basis is the identity map, so the weight is escnn's filter itself
    G = eqcnn.Trivial()
    theirs = enn.R2Conv(ie.to_escnn_type(G.trivial(2)), ie.to_escnn_type(G.trivial(3)), 3, padding=1)
    torch.nn.init.normal_(theirs.weights)
    mine = qnn.Conv2d(G.trivial(2), G.trivial(3), 3, padding=1)
    report = ie.load_escnn_weights(mine, theirs)
    assert report.max_residual == 0.0 and report.layers[0].eqcnn_name == "(the model)"


def _escnn_so2_model(gs, L, fields=3):
    irreps = gs.fibergroup.bl_irreps(L)
    act1 = enn.FourierELU(gs, fields, irreps=irreps, N=16)
    act2 = enn.FourierELU(gs, fields, irreps=irreps, N=16)
    body = enn.SequentialModule(
        enn.R2Conv(enn.FieldType(gs, [gs.trivial_repr]), act1.in_type, 7, padding=3),
        act1,
        enn.R2Conv(act1.in_type, act2.in_type, 5, padding=2),
        act2,
        enn.NormPool(act2.in_type),
    )
    return body


@pytest.mark.parametrize("continuous", ["SO2", "O2"])
def test_an_so2_model_with_fourier_nonlinearities_loads_and_computes_the_same(continuous):
    from escnn import gspaces

    L = 2
    G = eqcnn.SO2(L) if continuous == "SO2" else eqcnn.O2(L)
    # (escnn needs irreps up to 2 L on an O(2) gspace to build its bl_regular -> bl_regular filters)
    gs = (gspaces.rot2dOnR2 if continuous == "SO2" else gspaces.flipRot2dOnR2)(-1, maximum_frequency=2 * L + 2)
    torch.manual_seed(0)
    theirs = _escnn_so2_model(gs, L).eval()
    h = G.bl_regular(3)
    mine = qnn.Sequential(
        qnn.Conv2d(G.trivial(1), h, 7, padding=3, basis="escnn"),
        qnn.FourierELU(h, N=16),
        qnn.Conv2d(h, h, 5, padding=2, basis="escnn"),
        qnn.FourierELU(h, N=16),
        qnn.NormPool(h),
    ).eval()
    report = ie.load_escnn_weights(mine, theirs)
    assert report.max_residual < 1e-5 and report.max_output_error < 1e-5
    x = torch.randn(2, 1, 21, 21)
    want = theirs(enn.GeometricTensor(x, theirs.in_type)).tensor
    got = mine(x)
    assert ((got - want).norm() / want.norm()).item() < 1e-5
