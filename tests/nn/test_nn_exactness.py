"""exact_input_sizes(): its answers are confirmed by measuring 90-degree rotations through real models."""

from __future__ import annotations

import pytest
import torch
from equivariance_check import relative_error

import eqcnn
from eqcnn import nn as enn

G = eqcnn.Cyclic(4)


def _strided_net(stride_layer: str) -> enn.Sequential:
    t = G.regular(2)
    first = enn.Conv2d(G.trivial(1), t, 3, padding=1)
    if stride_layer == "conv":
        down = enn.Conv2d(t, t, 5, stride=2, padding=1)
    elif stride_layer == "maxpool":
        down = enn.MaxPool2d(t, 2)
    elif stride_layer == "dilated":
        down = enn.Conv2d(t, t, 3, stride=3, padding=0, dilation=2)
    else:
        down = enn.BlurPool2d(t, stride=2)
    return enn.Sequential(first, enn.ReLU(t), down, enn.ReLU(t), enn.BlurPool2d(t, stride=2)).eval()


def _measured_exact(net: enn.Sequential, size: int) -> bool:
    torch.manual_seed(size)
    x = torch.randn(1, 1, size, size)
    g = G.elements[1]
    y = net(x)
    err = relative_error(net(G.trivial(1).transform(x, g)), net.out_type.transform(y, g))
    return err < 1e-5


@pytest.mark.parametrize("stride_layer", ["conv", "maxpool", "dilated", "blur"])
def test_report_agrees_with_measured_rotation_error(stride_layer):
    net = _strided_net(stride_layer)
    for size in range(13, 19):
        report = enn.exact_input_sizes(net, size, search=8)
        assert report.is_exact == _measured_exact(net, size), (stride_layer, size, str(report))
        below, above = report.nearest
        assert below is not None and above is not None and below[0] <= size <= above[0]
        if not report.is_exact:
            assert _measured_exact(net, below[0]) and _measured_exact(net, above[0])


def test_rule_and_report_contents():
    net = _strided_net("blur")  # two blur pools: exact iff H % 4 == 1
    report = enn.exact_input_sizes(net, 28)
    assert not report.is_exact
    assert report.nearest == ((25, 25), (29, 29))
    assert [s.name for s in report.breaking_steps] == ["2", "4"]  # 28 -> 14: both blur pools break
    assert [s.input_size for s in report.steps] == [(28, 28), (14, 14)]
    assert "NOT exact" in str(report) and "nearest exact sizes: below (25, 25), above (29, 29)" in str(report)
    assert enn.exact_input_sizes(net, 29).is_exact


def test_follows_residual_branches_and_plain_modules():
    t = G.regular(1)
    body = enn.Sequential(enn.Conv2d(t, t, 3, stride=2, padding=1))
    shortcut = enn.Sequential(enn.Conv2d(t, t, 1, stride=2))
    net = torch.nn.Sequential(enn.ResidualBlock(body, shortcut), torch.nn.AvgPool2d(3, 2))
    report = enn.exact_input_sizes(net, 15, in_channels=4)
    assert [s.name for s in report.steps] == ["0.body.0", "0.shortcut.0", "1"]
    # 15 -> 8 through both branches; the plain avg pool then sees (8 - 3) % 2 == 1
    assert [s.name for s in report.breaking_steps] == ["1"]
    assert report.nearest == ((13, 13), (17, 17))
    assert enn.exact_input_sizes(net, 13, in_channels=4).is_exact


class _Upsampler(torch.nn.Module):
    """A decoder step that asks its transposed conv for an output size, as U-Nets do."""

    def __init__(self, plain: bool, double: bool) -> None:
        super().__init__()
        t = G.regular(1)
        self.in_type = t
        self.up = (
            torch.nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1)
            if plain
            else enn.ConvTranspose2d(t, t, 3, stride=2, padding=1)
        )
        self.double = double

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if self.double:
            return self.up(x, output_size=[2 * h, 2 * w])  # one row of output padding
        return self.up(x, [2 * h - 1, 2 * w - 1])  # the smallest size: none


@pytest.mark.parametrize("plain", [False, True], ids=["eqcnn", "torch"])
def test_transposed_conv_output_size_counts_as_output_padding(plain):
    report = enn.exact_input_sizes(_Upsampler(plain, double=True), 9)
    assert not report.is_exact
    assert [(s.name, s.output_padding) for s in report.breaking_steps] == [("up", (1, 1))]
    assert enn.exact_input_sizes(_Upsampler(plain, double=False), 9).is_exact
    if not plain:  # the report agrees with the measured rotation error
        torch.manual_seed(0)
        for double in (True, False):
            net = _Upsampler(plain, double).eval()
            x = torch.randn(1, 4, 9, 9)
            g = G.elements[1]
            err = relative_error(net(net.in_type.transform(x, g)), net.in_type.transform(net(x), g))
            assert (err < 1e-5) == (not double)


def test_errors():
    net = _strided_net("blur")
    with pytest.raises(ValueError, match="`in_channels` is needed"):
        enn.exact_input_sizes(torch.nn.Conv2d(1, 1, 3), 9)
    with pytest.raises(ValueError, match=r"`size` \(2, 2\) is too small"):
        enn.exact_input_sizes(net, 2)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_traces_in_the_model_dtype(dtype):
    plain = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, stride=2, padding=1)).to(dtype)
    report = enn.exact_input_sizes(plain, 32, in_channels=1)  # a float64 model takes float64 inputs
    assert not report.is_exact and report.nearest == ((31, 31), (33, 33))


def test_meta_probe_does_not_copy_the_weights(monkeypatch):
    # the default input size of every report traces a meta copy: copying the weights first would double a
    # large model's (GPU) memory
    from eqcnn.nn._exactness import _meta_probe

    G = eqcnn.Cyclic(4)
    model = enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 3, padding=1), enn.BatchNorm2d(G.regular(2)))

    weights = {id(t) for t in [*model.parameters(), *model.buffers()]}
    tensor_copy, param_copy = torch.Tensor.__deepcopy__, torch.nn.Parameter.__deepcopy__

    def guard(original):
        def deepcopy(self, memo):
            if id(self) in weights:
                raise AssertionError("a weight was deep-copied")
            return original(self, memo)

        return deepcopy

    monkeypatch.setattr(torch.Tensor, "__deepcopy__", guard(tensor_copy))
    monkeypatch.setattr(torch.nn.Parameter, "__deepcopy__", guard(param_copy))
    probe = _meta_probe(model)
    assert all(p.is_meta for p in probe.parameters()) and all(b.is_meta for b in probe.buffers())
    assert not any(p.is_meta for p in model.parameters())
    assert probe(torch.zeros(2, 1, 9, 9, device="meta")).shape == (2, 8, 9, 9)
