"""eqcnn models work with the tools that take an nn.Module: torch.compile, autocast, channels_last,
pickle, deepcopy and state_dict (across train/eval, across processes, and refused across groups)."""

from __future__ import annotations

import copy
import io
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from equivariance_check import relative_error

import eqcnn
from eqcnn import nn as enn
from eqcnn.models import SFCNN
from eqcnn.testing import tolerance


def small_net(G: eqcnn.PointGroup | None = None) -> enn.Sequential:
    G = G or eqcnn.Cyclic(4)
    t = G.regular(2)
    return enn.Sequential(
        enn.Conv2d(G.trivial(1), t, 3, padding=1, bias=False),
        enn.BatchNorm2d(t),
        enn.ELU(t),
        enn.BlurPool2d(t),
        enn.Conv2d(t, t, 3, padding=1),
        enn.NormNonlinearity(t),
        enn.GroupPool(t),
        enn.AdaptiveAvgPool2d(G.trivial(2), 1),
        torch.nn.Flatten(),
        torch.nn.Linear(2, 3),
    )


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_compile_fullgraph(mode):
    torch.manual_seed(0)
    net = getattr(small_net(), mode)()
    x = torch.randn(2, 1, 9, 9)
    ref = copy.deepcopy(net)(x)
    torch._dynamo.reset()
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    assert relative_error(compiled(x), ref) < 1e-5


def test_compile_fullgraph_in_inference_mode():
    net = small_net().eval()
    x = torch.randn(2, 1, 9, 9)
    torch._dynamo.reset()
    with torch.no_grad():
        net(x)  # fills the eval cache of the filters
        torch.compile(net, backend="eager", fullgraph=True)(x)


@pytest.mark.slow
def test_compile_with_inductor_matches_eager():
    torch.manual_seed(0)
    model = SFCNN(eqcnn.Cyclic(4), width=0.2, dropout=0.0).eval()
    x = torch.randn(2, 1, 17, 17)
    ref = model(x)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    assert relative_error(compiled(x), ref) < 1e-5
    model.train()
    compiled(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_autocast_bfloat16_on_cpu_stays_close_and_invariant():
    torch.manual_seed(0)
    net = small_net().eval()
    x = torch.randn(2, 1, 9, 9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = net(x)
        y_rot = net(torch.rot90(x, 1, (2, 3)))
    ref = net(x)
    assert relative_error(y.float(), ref) < 5e-2
    # bf16 rounding differs between the two inputs, so invariance holds to bf16 precision only
    assert relative_error(y_rot.float(), y.float()) < 5e-2


def test_channels_last_input_and_model():
    torch.manual_seed(0)
    net = small_net().eval()
    x = torch.randn(2, 1, 9, 9)
    ref = net(x)
    net_cl = copy.deepcopy(net).to(memory_format=torch.channels_last)
    assert relative_error(net_cl(x.to(memory_format=torch.channels_last)), ref) < 1e-5


def test_pickle_and_deepcopy_keep_the_function():
    torch.manual_seed(0)
    net = small_net().eval()
    x = torch.randn(2, 1, 9, 9)
    ref = net(x)
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert relative_error(clone(x), ref) == 0.0
        assert repr(clone) == repr(net)


def test_state_dict_keys_are_the_same_in_train_and_eval_and_round_trip():
    torch.manual_seed(0)
    net = small_net()
    net(torch.randn(4, 1, 9, 9))  # update running statistics
    keys_train = list(net.state_dict().keys())
    net.eval()
    x = torch.randn(2, 1, 9, 9)
    ref = net(x)  # fills the eval caches
    assert list(net.state_dict().keys()) == keys_train
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    other = small_net().eval()
    buf.seek(0)
    other.load_state_dict(torch.load(buf, weights_only=False))
    assert relative_error(other(x), ref) == 0.0


def test_state_dict_loads_in_another_process(tmp_path):
    # the promise (docs/concepts.md, "Reproducibility"): bitwise within one set-up. CPU convolutions
    # sum in an order that depends on the thread count (1 and 2 threads differ by 1 ulp on this net),
    # so the child runs with the parent's thread count; across set-ups only float32 tolerance holds
    # (test_state_dict_loads_across_thread_counts)
    torch.manual_seed(0)
    net = SFCNN(eqcnn.Dihedral(4), width=0.2, kernel_sizes=(3,) * 6)
    net(torch.randn(4, 1, 17, 17))
    net.eval()
    x = torch.randn(2, 1, 17, 17)
    torch.save({"state": net.state_dict(), "x": x, "y": net(x).detach()}, tmp_path / "ckpt.pt")
    script = textwrap.dedent(
        f"""
        import torch, eqcnn
        from eqcnn.models import SFCNN
        torch.set_num_threads({torch.get_num_threads()})
        saved = torch.load({str(tmp_path / "ckpt.pt")!r}, weights_only=False)
        net = SFCNN(eqcnn.Dihedral(4), width=0.2, kernel_sizes=(3,) * 6).eval()
        net.load_state_dict(saved["state"])
        err = (net(saved["x"]) - saved["y"]).abs().max().item()
        print(err)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().splitlines()[-1]) == 0.0


def test_state_dict_loads_across_thread_counts():
    # across set-ups (here: 1 and 2 CPU threads) the promise is float32 tolerance, not bits
    torch.manual_seed(0)
    net = SFCNN(eqcnn.Dihedral(4), width=0.2, kernel_sizes=(3,) * 6)
    net(torch.randn(4, 1, 17, 17))
    net.eval()
    x = torch.randn(2, 1, 17, 17)
    threads = torch.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            torch.set_num_threads(n)
            twin = SFCNN(eqcnn.Dihedral(4), width=0.2, kernel_sizes=(3,) * 6).eval()
            twin.load_state_dict(net.state_dict())
            outs.append(twin(x).detach())
    finally:
        torch.set_num_threads(threads)
    assert relative_error(outs[0], outs[1]) < tolerance(torch.float32)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (
            lambda: small_net(eqcnn.Dihedral(2)),
            r"saved from a Sequential with in_type=Cyclic\(4\).trivial\(1\) into one with in_type=Dihedral\(2\)",
        ),
        (lambda: enn.BatchNorm2d(eqcnn.Cyclic(4).regular(2)), r"BatchNorm2d with in_type="),
    ],
)
def test_loading_weights_of_another_group_or_type_fails_clearly(other, message):
    if "BatchNorm" in message:
        source = enn.BatchNorm2d(eqcnn.Cyclic(2).regular(4))  # same channel count, other group
    else:
        source = small_net(eqcnn.Cyclic(4))
    target = other()
    with pytest.raises(ValueError, match=message):
        target.load_state_dict(source.state_dict())


def test_parametrized_and_pruned_weights_are_the_ones_used():
    # the layers read weight and bias straight from _parameters for speed; a parametrization or pruning
    # moves the weight out of there, and the layer must then use the computed one
    from torch.nn.utils import parametrize, prune

    class Double(torch.nn.Module):
        def forward(self, w):
            return 2 * w

    G = eqcnn.Cyclic(4)
    x = torch.randn(1, 8, 7, 7)
    for mode in ("train", "eval"):
        conv = getattr(enn.Conv2d(G.regular(2), G.regular(2), 3, padding=1, bias=False), mode)()
        y = conv(x).detach()
        parametrize.register_parametrization(conv, "weight", Double())
        assert relative_error(conv(x), 2 * y) < 1e-6
        conv = getattr(enn.Conv2d(G.regular(2), G.regular(2), 3, padding=1, bias=False), mode)()
        prune.l1_unstructured(conv, "weight", amount=1.0)  # every weight pruned: the output is zero
        assert conv(x).abs().max() == 0


def _regular_conv():
    G = eqcnn.Cyclic(8)
    conv = enn.Conv2d(G.regular(2) + G.trivial(1), G.regular(2), 5, padding=2)
    with torch.no_grad():
        conv.bias.normal_()
    return conv


def test_pickled_layers_keep_the_constants_but_not_the_float64_bases():
    torch.manual_seed(0)
    conv = _regular_conv()
    x = torch.randn(1, 17, 9, 9)
    ref = conv(x)
    blob = pickle.dumps(conv)
    basis_bytes = sum(blk.basis.filters.nbytes + blk.basis.coefficients.nbytes for blk in conv._bank.blocks)
    const_bytes = sum(t.numel() * t.element_size() for blk in conv._bank.blocks for t in blk.tensors)
    assert len(blob) < const_bytes + basis_bytes / 4  # the float64 bases are looked up again on load
    clone = pickle.loads(blob)
    assert relative_error(clone(x), ref) == 0.0
    assert all(a.basis is b.basis for a, b in zip(clone._bank.blocks, conv._bank.blocks))  # the cached ones


def test_meta_device_init_then_to_empty_gives_real_constants():
    torch.manual_seed(0)
    conv = _regular_conv()
    x = torch.randn(1, 17, 9, 9)
    ref = conv(x)
    with torch.device("meta"):
        lazy = _regular_conv()
    assert all(t.device.type == "meta" for blk in lazy._bank.blocks for t in blk.tensors)
    lazy = lazy.to_empty(device="cpu")
    lazy.load_state_dict(conv.state_dict())
    assert relative_error(lazy(x), ref) == 0.0
    # and building under the meta device did not leave meta tensors in the shared caches
    fresh = _regular_conv()
    fresh.load_state_dict(conv.state_dict())
    assert relative_error(fresh(x), ref) == 0.0


@pytest.mark.parametrize("cls", [enn.Conv2d, enn.ConvTranspose2d])
def test_a_model_built_on_the_meta_device_loads_with_assign(cls):
    # the usual way to load big models: build on meta, then load_state_dict(assign=True), which swaps in
    # the loaded tensors without .to(): the constants must follow the weight's device and dtype
    torch.manual_seed(0)
    G = eqcnn.Cyclic(8)
    tin, tout = G.regular(2) + G.trivial(1), G.regular(1) + G.irreps_field(1)
    for dtype in (torch.float32, torch.float64):
        src = cls(tin, tout, 5, padding=2, dtype=dtype)
        x = torch.randn(1, tin.size, 9, 9, dtype=dtype)
        with torch.device("meta"):
            lazy = cls(tin, tout, 5, padding=2)
        lazy.load_state_dict(src.state_dict(), assign=True)
        held = [t for blk in lazy._bank.blocks for t in blk.tensors] + [lazy._bias_map.basis]
        assert {(t.device.type, t.dtype) for t in held if t.is_floating_point()} == {("cpu", dtype)}
        assert relative_error(lazy(x), src(x)) == 0.0


@pytest.mark.parametrize("how", ["parametrize", "prune"])
def test_a_parametrized_or_pruned_meta_model_loads_with_assign(how):
    # the weight then lives in a submodule (parametrizations.weight.original) or as weight_orig
    from torch.nn.utils import parametrize, prune

    class Double(torch.nn.Module):
        def forward(self, w):
            return 2 * w

    def wrap(conv):
        if how == "parametrize":
            parametrize.register_parametrization(conv, "weight", Double())
        else:
            prune.l1_unstructured(conv, "weight", amount=0.3)
        return conv

    torch.manual_seed(0)
    G = eqcnn.Cyclic(4)
    src = wrap(enn.Conv2d(G.regular(2), G.regular(2), 3, padding=1))
    x = torch.randn(1, 8, 7, 7)
    with torch.device("meta"):
        lazy = wrap(enn.Conv2d(G.regular(2), G.regular(2), 3, padding=1))
    lazy.load_state_dict(src.state_dict(), assign=True)
    assert relative_error(lazy(x), src(x)) == 0.0


def test_constants_made_under_inference_mode_do_not_reach_layers_that_train():
    import eqcnn.nn._filter_bank as filter_bank

    G = eqcnn.Dihedral(3)  # a shape no other test uses, so its constants are made here
    for cache in (filter_bank._basis_tensor, filter_bank._factor_tensors, filter_bank._gather_index):
        cache.cache_clear()
    with torch.inference_mode():
        served = enn.Conv2d(G.regular(2), G.regular(3), 5)  # made on the CPU in inference mode ...
        served.to("meta")  # ... and moved (the per-device copies are shared too)
    for device in ("cpu", "meta"):
        trained = enn.Conv2d(G.regular(2), G.regular(3), 5).to(device)
        held = [t for blk in trained._bank.blocks for t in blk.tensors]
        assert held and not any(t.is_inference() for t in held)
        x = torch.randn(1, 12, 9, 9).to(device).requires_grad_()
        trained(x).sum().backward()  # (an inference tensor cannot be saved for backward)
    assert served is not None


@pytest.mark.parametrize("real_first", [True, False], ids=["real-then-fake", "fake-then-real"])
def test_layers_built_under_fake_tensor_mode_do_not_share_constants_with_real_ones(real_first):
    """A layer built under FakeTensorMode (to trace a model, or to estimate its memory) gets fake constants
    of its own: the shared cache neither hands it real ones (its forward failed) nor keeps its fake ones
    (every later real layer of that shape failed)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    import eqcnn.nn._filter_bank as filter_bank

    for cache in (filter_bank._basis_tensor, filter_bank._factor_tensors, filter_bank._gather_index):
        cache.cache_clear()  # the constants of these shapes are made in this test, in the order it says
    G = eqcnn.Dihedral(5)
    lift, group = (G.trivial(1), G.regular(1)), (G.regular(1), G.regular(2))  # dense basis; factored form
    sizes = {"lift": (1, 1, 9, 9), "group": (1, 10, 9, 9)}

    def real() -> None:
        for name, (a, b) in (("lift", lift), ("group", group)):
            layer = enn.Conv2d(a, b, 3, padding=1)
            held = [t for blk in layer._bank.blocks for t in blk.tensors]
            assert held and all(type(t) is torch.Tensor for t in held), name
            assert layer(torch.randn(*sizes[name])).isfinite().all(), name
            on_meta = enn.Conv2d(a, b, 3, device="meta")
            assert all(type(t) is torch.Tensor for blk in on_meta._bank.blocks for t in blk.tensors), name

    kept = []  # (the fake layers stay alive: the per-device copies live as long as a layer holds them)
    if real_first:
        real()
    with FakeTensorMode():
        for name, (a, b) in (("lift", lift), ("group", group)):
            layer = enn.Conv2d(a, b, 3, padding=1)
            assert layer(torch.empty(*sizes[name])).shape[1] == b.size, name
            kept.append(enn.Conv2d(a, b, 3, device="meta"))  # (per-device copies: not shared either)
    real()
    assert kept


def test_a_transposed_conv_builds_on_the_meta_device_and_initialises_after_to_empty():
    G = eqcnn.Cyclic(4)
    lazy = enn.ConvTranspose2d(G.regular(2), G.regular(2), 3, stride=2, device="meta")
    assert lazy.weight.is_meta
    lazy = lazy.to_empty(device="cpu")
    lazy.reset_parameters()
    eager = enn.ConvTranspose2d(G.regular(2), G.regular(2), 3, stride=2)
    # He-scaled as when built on the CPU (same rule, different draws)
    assert 0.5 < lazy.weight.std().item() / eager.weight.std().item() < 2.0


def test_dtype_changes_rebuild_the_constants_from_float64():
    conv = _regular_conv()
    fresh = [t.clone() for blk in conv._bank.blocks for t in blk.tensors]
    back = copy.deepcopy(conv).double().float()
    assert all(torch.equal(a, b) for a, b in zip(fresh, [t for blk in back._bank.blocks for t in blk.tensors]))
    half = copy.deepcopy(conv).half()
    for blk, ref_blk in zip(half._bank.blocks, conv.double()._bank.blocks):
        for t, r in zip(blk.tensors, ref_blk.tensors):
            if t.is_floating_point():  # rounded once from float64, not twice through float32
                tiny = torch.finfo(torch.float16).tiny
                assert torch.equal(t, torch.where(r.abs() < tiny, 0.0, r).half())


def test_eval_cache_filled_under_autocast_serves_float32_calls_exactly():
    torch.manual_seed(0)
    conv = _regular_conv().eval()
    x = torch.randn(1, 17, 9, 9)
    ref = copy.deepcopy(conv)(x)
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            conv(x)  # fills the cache
        assert conv._cache is not None
        assert conv.expand_parameters()[0].dtype == torch.float32
        assert relative_error(conv(x), ref) == 0.0  # served from the cache (no_grad): not a bf16 filter


def test_under_autocast_the_filter_is_expanded_in_full_precision_and_cast_once_by_the_conv():
    torch.manual_seed(0)
    conv = _regular_conv()
    x = torch.randn(2, 17, 9, 9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        filt, bias = conv.expand_parameters()
        y = conv(x)
        ref = F.conv2d(x, filt, bias, padding=2)  # a plain conv with this float32 filter, under autocast
    assert filt.dtype == bias.dtype == torch.float32
    assert relative_error(filt, conv.double().expand_parameters()[0].float()) < 1e-6
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, ref)


def test_partly_pruned_weights_are_the_ones_used():
    from torch.nn.utils import prune

    torch.manual_seed(0)
    conv = _regular_conv()
    prune.l1_unstructured(conv, "weight", amount=0.5)
    twin = _regular_conv()
    with torch.no_grad():
        twin.weight.copy_(conv.weight)  # the pruned weight: half of it zero
        twin.bias.copy_(conv.bias)
    x = torch.randn(1, 17, 9, 9)
    for mode in ("train", "eval"):
        conv.train(mode == "train")
        twin.train(mode == "train")
        assert relative_error(conv(x), twin(x)) == 0.0
