"""Conv2d: the ordinary conv for Trivial, exact equivariance, caching, init, errors."""

import copy
import io
import pickle

import pytest
import torch
import torch.nn.functional as F

import eqcnn
from eqcnn import nn as enn

F32_TOL = 1e-5


def rel_err(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


# -- Trivial is exactly torch's conv ---------------------------------------------------------------
def test_trivial_conv_is_torch_conv_with_same_parameter_count():
    T = eqcnn.Trivial()
    conv = enn.Conv2d(T.trivial(3), T.regular(16), 5)
    ref = torch.nn.Conv2d(3, 16, 5)
    assert sum(p.numel() for p in conv.parameters()) == sum(p.numel() for p in ref.parameters()) == 1216
    x = torch.randn(2, 3, 12, 12)
    filt, bias = conv.expand_parameters()
    assert filt.shape == (16, 3, 5, 5)
    assert torch.equal(conv(x), F.conv2d(x, filt, bias))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=(3, 5), padding=(1, 2), dilation=2),
        dict(kernel_size=4, padding=1, padding_mode="reflect"),
        dict(kernel_size=3, padding="same", padding_mode="circular", bias=False),
        dict(kernel_size=3, padding=1, groups=2),
        # 'same' with an even dilated kernel: torch pads one more row/column after
        dict(kernel_size=4, padding="same"),
        dict(kernel_size=(2, 3), padding="same", padding_mode="reflect"),
        dict(kernel_size=(4, 2), padding="same", dilation=(3, 1), padding_mode="circular"),
        dict(kernel_size=2, padding="same", padding_mode="replicate", groups=2),
    ],
)
def test_trivial_conv_matches_torch_for_options(kwargs):
    T = eqcnn.Trivial()
    conv = enn.Conv2d(T.trivial(4), T.trivial(6), **kwargs)
    ref = torch.nn.Conv2d(4, 6, **kwargs)
    assert conv.weight.shape == ref.weight.shape
    with torch.no_grad():
        ref.weight.copy_(conv.weight)
        if ref.bias is not None:
            ref.bias.copy_(torch.randn(6))
            conv.bias.copy_(ref.bias)
    x = torch.randn(2, 4, 11, 13)
    torch.testing.assert_close(conv(x), ref(x), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(conv.export()(x), ref(x), rtol=1e-6, atol=1e-6)


def test_same_padding_prints_as_given():
    T, G = eqcnn.Trivial(), eqcnn.Cyclic(4)
    even = enn.Conv2d(T.trivial(2), T.trivial(2), 4, padding="same")
    assert repr(even) == "Conv2d(Trivial().trivial(2), Trivial().trivial(2), kernel_size=4, padding='same')"
    odd = enn.Conv2d(G.regular(1), G.regular(1), 5, padding="same", dilation=2)
    assert repr(odd) == "Conv2d(Cyclic(4).regular(1), Cyclic(4).regular(1), kernel_size=5, padding='same', dilation=2)"
    assert odd.padding == (4, 4) and even.padding == (1, 1)
    clone = pickle.loads(pickle.dumps(even))
    x = torch.randn(1, 2, 6, 7)
    assert clone(x).shape == x.shape and torch.equal(clone(x), even(x))


# -- exact equivariance ---------------------------------------------------------------------
def type_pairs(G):
    irrep = G.irreps()[-1] if G.order > 1 else G.trivial_representation
    irr = eqcnn.FieldType(G, [irrep])
    return {
        "lifting": (G.trivial(2), G.regular(3)),
        "group": (G.regular(2), G.regular(3)),
        "irreps": (irr + G.regular(1), irr + G.trivial(1)),
        "invariant": (G.regular(3), G.trivial(2)),
    }


EXACT_GROUPS = [
    eqcnn.Cyclic(2),
    eqcnn.Cyclic(4),
    eqcnn.Cyclic(8),
    eqcnn.Dihedral(1),
    eqcnn.Dihedral(4),
    eqcnn.Dihedral(8),
]


@pytest.mark.parametrize("G", EXACT_GROUPS, ids=repr)
@pytest.mark.parametrize("kind", ["lifting", "group", "irreps", "invariant"])
@pytest.mark.parametrize(("size", "dilation"), [(15, 1), (16, 1), (17, 2), (18, 2)])
def test_conv_is_exactly_equivariant_to_grid_elements(G, kind, size, dilation):
    tin, tout = type_pairs(G)[kind]
    conv = enn.Conv2d(tin, tout, 3, padding=dilation, dilation=dilation)
    with torch.no_grad():
        conv.bias.normal_() if conv.bias is not None else None
    x = torch.randn(2, tin.size, size, size)
    y = conv(x)
    for g in G.elements:
        if g.is_grid_symmetry:
            assert rel_err(conv(tin.transform(x, g)), tout.transform(y, g)) < F32_TOL, g


@pytest.mark.parametrize("G", [eqcnn.Cyclic(4), eqcnn.Dihedral(4)], ids=repr)
def test_pixel_basis_conv_is_exactly_equivariant(G):
    tin, tout = G.regular(2), G.regular(2)
    conv = enn.Conv2d(tin, tout, 5, padding=2, basis="pixel")
    x = torch.randn(1, tin.size, 14, 14)
    for g in G.elements:
        assert rel_err(conv(tin.transform(x, g)), tout.transform(conv(x), g)) < F32_TOL


@pytest.mark.parametrize("shift", [(0, 1), (3, -2), (7, 5)])
@pytest.mark.parametrize("stride", [1, 2])
def test_circular_padding_is_exactly_shift_equivariant(shift, stride):
    G = eqcnn.Cyclic(8)
    conv = enn.Conv2d(G.regular(1), G.regular(2), 5, stride=stride, padding=2, padding_mode="circular")
    x = torch.randn(2, 8, 16, 16)
    s = (shift[0] * stride, shift[1] * stride)
    lhs = conv(torch.roll(x, s, dims=(-2, -1)))
    rhs = torch.roll(conv(x), shift, dims=(-2, -1))
    assert rel_err(lhs, rhs) < F32_TOL


def test_stride_two_exact_when_the_sampled_grid_is_symmetric():
    G = eqcnn.Cyclic(4)
    conv = enn.Conv2d(G.trivial(1), G.regular(1), 3, stride=2, padding=1)
    g = G.element(1)
    good = torch.randn(1, 1, 17, 17)  # (17 + 2 - 3) % 2 == 0
    assert rel_err(conv(G.trivial(1).transform(good, g)), G.regular(1).transform(conv(good), g)) < F32_TOL
    bad = torch.randn(1, 1, 16, 16)  # the sampled grid is off-centre: not exact
    assert rel_err(conv(G.trivial(1).transform(bad, g)), G.regular(1).transform(conv(bad), g)) > 0.1


def test_45_degrees_in_c8_is_approximate_but_close_on_smooth_input():
    G = eqcnn.Cyclic(8)
    tin, tout = G.trivial(1), G.regular(4)
    conv = enn.Conv2d(tin, tout, 7, padding=3).double()
    n = 33
    c = (n - 1) / 2
    i, j = torch.meshgrid(torch.arange(n) - c, torch.arange(n) - c, indexing="ij")
    x = torch.exp(-((i - 3) ** 2 + (j + 2) ** 2) / 18.0) - torch.exp(-((i + 4) ** 2 + (j - 1) ** 2) / 12.0)
    x = x[None, None].double()
    disk = (i**2 + j**2) <= 10**2
    g = G.element(1)
    lhs = conv(tin.transform(x, g))[..., disk]
    rhs = tout.transform(conv(x), g)[..., disk]
    assert rel_err(lhs, rhs) < 0.1


# -- caching, state, init --------------------------------------------------------------------
def test_eval_caches_filter_and_drops_it_when_weights_change():
    G = eqcnn.Cyclic(4)
    conv = enn.Conv2d(G.regular(1), G.regular(1), 3).eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        y1 = conv(x)
        f1 = conv.expand_parameters()[0]
        assert conv.expand_parameters()[0] is f1  # cached
        conv.weight.add_(1.0)
        f2 = conv.expand_parameters()[0]
        assert f2 is not f1
        assert not torch.equal(conv(x), y1)
    conv.train()
    assert conv._cache is None


def test_eval_with_gradients_wanted_recomputes_the_filter():
    G = eqcnn.Cyclic(4)
    conv = enn.Conv2d(G.regular(1), G.regular(1), 3).eval()
    conv(torch.randn(1, 4, 8, 8)).sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_state_dict_keys_same_in_train_and_eval_and_round_trip():
    G = eqcnn.Dihedral(4)
    conv = enn.Conv2d(G.trivial(1), G.regular(2), 5)
    keys_train = list(conv.state_dict())
    conv.eval()
    with torch.no_grad():
        conv(torch.randn(1, 1, 9, 9))
    assert list(conv.state_dict()) == keys_train == ["weight", "bias", "_extra_state"]
    buf = io.BytesIO()
    torch.save(conv.state_dict(), buf)
    other = enn.Conv2d(G.trivial(1), G.regular(2), 5)
    other.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=False))
    assert torch.equal(other.weight, conv.weight)


def test_loading_into_another_group_fails_clearly():
    a = enn.Conv2d(eqcnn.Cyclic(4).trivial(1), eqcnn.Cyclic(4).regular(2), 5)
    b = enn.Conv2d(eqcnn.Cyclic(8).trivial(1), eqcnn.Cyclic(8).regular(1), 5)
    with pytest.raises(
        ValueError,
        match=(
            r"saved from a Conv2d with in_type=Cyclic\(4\).trivial\(1\), out_type=Cyclic\(4\).regular\(2\) "
            r"into one with in_type=Cyclic\(8\).trivial\(1\), out_type=Cyclic\(8\).regular\(1\)"
        ),
    ):
        b.load_state_dict(a.state_dict())


def test_pickle_deepcopy_and_repr():
    G = eqcnn.Cyclic(8)
    conv = enn.Conv2d(G.trivial(3), G.regular(16), 5, padding=2, bias=False, padding_mode="circular")
    assert repr(conv) == (
        "Conv2d(Cyclic(8).trivial(3), Cyclic(8).regular(16), kernel_size=5, padding=2, bias=False, "
        "padding_mode='circular')"
    )
    x = torch.randn(1, 3, 9, 9)
    for clone in (pickle.loads(pickle.dumps(conv)), copy.deepcopy(conv)):
        assert torch.equal(clone(x), conv(x))


def test_export_matches():
    G = eqcnn.Dihedral(4)
    conv = enn.Conv2d(
        G.trivial(2) + G.regular(1), G.regular(2) + G.irreps_field(1, 1), 3, padding=1, padding_mode="reflect"
    )
    plain = conv.export()
    assert isinstance(plain, torch.nn.Conv2d) and plain.padding_mode == "reflect"
    x = torch.randn(2, 10, 9, 9)
    assert rel_err(plain(x), conv(x)) < 1e-6


HE_GROUPS = [eqcnn.Trivial(), eqcnn.Cyclic(4), eqcnn.Cyclic(8), eqcnn.Dihedral(4)]


@pytest.mark.parametrize("G", HE_GROUPS, ids=repr)
def test_he_init_doubles_the_second_moment_of_relu_inputs(G):
    # He's rule, for the basis: on ReLU'd white noise of second moment 1, a conv's output has
    # second moment 2 in expectation over the weights (averaged over 10 draws here).
    width = G.regular(128 // G.order)
    moments = []
    for seed in range(10):
        torch.manual_seed(seed)
        conv = enn.Conv2d(width, width, 3, padding=1, padding_mode="circular")
        x = torch.relu(torch.randn(2, width.size, 12, 12)) * 2**0.5
        with torch.no_grad():
            moments.append(conv(x).pow(2).mean().item())
    assert 1.6 < sum(moments) / len(moments) < 2.4, moments


@pytest.mark.parametrize("G", HE_GROUPS, ids=repr)
def test_he_init_keeps_activation_moment_within_a_bounded_drift_through_depth(G):
    # Through 7 conv(3x3) + ReLU layers without normalisation, the pre-activation moment stays
    # within a factor 4 of He's value 2 (geometric mean over 4 seeds). Band-limited filters make
    # activations smoother with depth, so it drifts (more for 5x5 filters; see Conv2d.reset_parameters).
    width = G.regular(128 // G.order)  # 128 channels for every group
    logs = []
    for seed in range(4):
        torch.manual_seed(seed)
        layers = [enn.Conv2d(G.trivial(4), width, 3, padding=1, padding_mode="circular")]
        layers += [enn.Conv2d(width, width, 3, padding=1, padding_mode="circular") for _ in range(6)]
        x = torch.randn(2, 4, 12, 12)
        row = []
        with torch.no_grad():
            for layer in layers:
                x = layer(x)
                row.append(x.pow(2).mean().log().item())
                x = torch.relu(x)
        logs.append(row)
    geo = torch.tensor(logs).mean(dim=0).exp()
    assert ((geo > 0.5) & (geo < 8.0)).all(), geo  # a naive N(0, 1) init grows ~100x a layer


# -- bad input -----------------------------------------------------------------------------------
C4 = eqcnn.Cyclic(4)


@pytest.mark.parametrize(
    ("call", "err", "message"),
    [
        (
            lambda: enn.Conv2d(C4.trivial(1), eqcnn.Cyclic(8).regular(1), 3),
            ValueError,
            r"`in_type` and `out_type` must have the same group, got Cyclic\(4\) and Cyclic\(8\)",
        ),
        (
            lambda: enn.Conv2d(C4.trivial(1), C4.regular(1), 4),
            ValueError,
            r"`kernel_size` must be odd and square for Cyclic\(4\) .* got 4; use 5",
        ),
        (
            lambda: enn.Conv2d(C4.trivial(1), C4.regular(1), 3, padding_mode="mirror"),
            ValueError,
            r"`padding_mode` must be one of 'zeros', 'reflect', 'replicate', 'circular'; got 'mirror'",
        ),
        (
            lambda: enn.Conv2d(C4.trivial(1), C4.irreps_field(1), 1),
            ValueError,
            r"no equivariant 1x1 filter maps Cyclic\(4\).trivial\(1\) to Cyclic\(4\).irreps_field\(1\) "
            r".* use kernel_size >= 3",
        ),
        (
            lambda: enn.Conv2d(3, 16, 3),
            TypeError,
            r"`in_type` must be an eqcnn FieldType \(e.g. G.regular\(8\)\), got int",
        ),
        (
            lambda: enn.Conv2d(C4.trivial(1), C4.regular(1), 3, stride=2, padding="same"),
            ValueError,
            r"`padding`='same' needs stride 1",
        ),
        (
            lambda: enn.Conv2d(C4.regular(2), C4.regular(2), 3, groups=2),
            ValueError,
            r"`groups` \(=2\) must be 1 for Cyclic\(4\)",
        ),
        (
            lambda: enn.Conv2d(eqcnn.Trivial().trivial(3), eqcnn.Trivial().trivial(4), 3, groups=2),
            ValueError,
            r"`in_type.size` \(=3\) must be divisible by `groups` \(=2\)",
        ),
        (
            lambda: enn.Conv2d(eqcnn.Trivial().trivial(1), eqcnn.Trivial().trivial(1), (3, 5), basis="harmonic"),
            ValueError,
            r"`kernel_size` must be square with basis='harmonic', got \(3, 5\)",
        ),
        (
            lambda: enn.Conv2d(eqcnn.Cyclic(8).trivial(1), eqcnn.Cyclic(8).regular(1), 3, basis="pixel"),
            ValueError,
            r"the pixel basis needs a group whose elements map the pixel grid onto itself",
        ),
    ],
)
def test_conv_build_errors(call, err, message):
    with pytest.raises(err, match=message):
        call()


@pytest.mark.parametrize(
    ("x", "err", "message"),
    [
        (torch.randn(1, 3, 8, 8), ValueError, r"Conv2d: input must have 4 channels \(dim -3\), got 3"),
        (
            torch.randn(4, 8),
            ValueError,
            r"Conv2d: input must have shape \(B, C, H, W\) or \(C, H, W\) with C=4, got shape \(4, 8\)",
        ),
        (
            torch.ones(1, 4, 8, 8, dtype=torch.int64),
            TypeError,
            r"Conv2d: input must be a floating point tensor, got dtype torch.int64",
        ),
    ],
)
def test_conv_forward_errors(x, err, message):
    conv = enn.Conv2d(C4.regular(1), C4.regular(1), 3)
    with pytest.raises(err, match=message):
        conv(x)


def test_trivial_conv_loads_a_torch_conv_state_dict_and_back():
    T = eqcnn.Trivial()
    ref = torch.nn.Conv2d(3, 16, 5, padding=2)
    conv = enn.Conv2d(T.trivial(3), T.regular(16), 5, padding=2)
    assert conv.weight.shape == ref.weight.shape  # torch's layout
    conv.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 11, 11)
    torch.testing.assert_close(conv(x), ref(x), rtol=0, atol=0)
    ref.load_state_dict(conv.state_dict(), strict=False)  # the other way: only the type record is extra


def test_bases_are_not_buffers_but_follow_the_module():
    # DDP broadcasts buffers every step; the bases are constants, so they are not buffers
    G = eqcnn.Cyclic(8)
    conv = enn.Conv2d(G.regular(2) + G.trivial(1), G.regular(2) + G.irreps_field(1), 5, padding=2)
    assert list(conv.named_buffers()) == []
    conv = conv.double()
    consts = [t for blk in conv._bank.blocks for t in blk.tensors]
    assert any(blk.factored for blk in conv._bank.blocks) and any(not blk.factored for blk in conv._bank.blocks)
    assert all(t.dtype == torch.float64 for t in consts if t.is_floating_point())
    assert all(t.dtype == torch.int64 for t in consts if not t.is_floating_point())  # gather indices stay indices
    x = torch.randn(1, 17, 9, 9, dtype=torch.float64)
    assert conv(x).dtype == torch.float64


def test_eval_cache_under_inference_mode_does_not_leak_into_autograd():
    G = eqcnn.Cyclic(4)
    conv = enn.Conv2d(G.trivial(1), G.regular(2), 3, padding=1).eval().requires_grad_(False)
    x = torch.randn(1, 1, 8, 8)
    with torch.inference_mode():
        conv(x)
    x.requires_grad_(True)
    conv(x).sum().backward()  # saliency through a frozen model, after an inference-mode pass
    assert x.grad is not None


def test_clear_cache_after_writes_through_data():
    G = eqcnn.Cyclic(4)
    conv = enn.Conv2d(G.trivial(1), G.regular(2), 3, padding=1).eval()
    x = torch.randn(1, 1, 8, 8)
    with torch.no_grad():
        y = conv(x)
        conv.weight.data.mul_(2)  # bypasses the version counter
        conv.clear_cache()
        torch.testing.assert_close(conv(x), 2 * y)  # (the bias starts at zero)


def test_trivial_depthwise_conv_matches_torch_and_exports():
    T = eqcnn.Trivial()
    conv = enn.Conv2d(T.trivial(6), T.trivial(6), 3, padding=1, groups=6)
    ref = torch.nn.Conv2d(6, 6, 3, padding=1, groups=6)
    assert sum(p.numel() for p in conv.parameters()) == sum(p.numel() for p in ref.parameters()) == 60
    conv.load_state_dict(ref.state_dict())
    x = torch.randn(2, 6, 9, 9)
    torch.testing.assert_close(conv(x), ref(x), rtol=0, atol=0)
    plain = conv.export()
    assert plain.groups == 6
    torch.testing.assert_close(plain(x), ref(x), rtol=0, atol=0)
    assert repr(conv) == "Conv2d(Trivial().trivial(6), Trivial().trivial(6), kernel_size=3, padding=1, groups=6)"


def test_three_dimensional_input_is_named_as_unbatched_in_the_message():
    conv = enn.Conv2d(C4.regular(2), C4.regular(1), 3)
    with pytest.raises(ValueError, match=r"got 1 \(shape \(1, 8, 4\) read as unbatched \(C, H, W\)\)"):
        conv(torch.randn(1, 8, 4))


def test_conv_transpose_shares_the_eval_cache_and_holds_no_buffers():
    G = eqcnn.Dihedral(4)
    up = enn.ConvTranspose2d(G.regular(2), G.regular(1), 3, stride=2, padding=1).eval()
    assert list(up.named_buffers()) == []
    with torch.no_grad():
        f1, _ = up.expand_parameters()
        assert up.expand_parameters()[0] is f1
        up.weight.add_(1.0)
        assert up.expand_parameters()[0] is not f1
