"""eqcnn models captured as CUDA graphs compute what they compute eagerly (CUDA runs only:
``--eqcnn-device=cuda``; on the CPU these tests are skipped with the reason).

A graph replays the kernels captured once, without Python, so a layer must not bake a
Python-side decision into it: the filter expansion is captured and replayed, in training
and in eval mode, so in-place weight updates reach every replay.

Under autocast, the graphed callable enters autocast itself: ``make_graphed_callables``
called under autocast would capture the backward under autocast too, which runs the
expansion's transposed GEMM in bf16 (gradients then differ from the eager step's by about
2e-3 relative, measured by ``benchmarks/gpu/graphed.py``; so does an eager ``backward()``
called inside the autocast block).
"""

from __future__ import annotations

import gc

import pytest
import torch
from equivariance_check import relative_error

import eqcnn
from eqcnn import nn as enn
from eqcnn.testing import no_tf32, tolerance


def _net(device: torch.device) -> enn.Sequential:
    G = eqcnn.Cyclic(4)
    t = G.regular(3)
    torch.manual_seed(0)
    return enn.Sequential(
        enn.Conv2d(G.trivial(2), t, 5, padding=2),
        enn.ReLU(t),
        enn.Conv2d(t, t, 3, padding=1),
        enn.ReLU(t),
        enn.ConvTranspose2d(t, G.regular(2), 3, stride=2, padding=1, output_padding=1),
        enn.GroupPool(G.regular(2)),
    ).to(device)


class _Autocast(torch.nn.Module):
    def __init__(self, module: torch.nn.Module, ac: dict) -> None:
        super().__init__()
        self.module, self.ac = module, ac

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(**self.ac):
            return self.module(x)


def _need_cuda(device: torch.device) -> None:
    if device.type != "cuda":
        pytest.skip("CUDA graphs need a CUDA device (run with --eqcnn-device=cuda)")
    # an earlier test's graph freed by the garbage collector during this test's capture would
    # invalidate the capture: free them now
    gc.collect()


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16-autocast"])
def test_a_graphed_training_step_matches_the_eager_one(device, bf16):
    _need_cuda(device)
    tol = tolerance(torch.bfloat16 if bf16 else torch.float32)
    eager, graphed = _net(device), _net(device)
    x = torch.randn(2, 2, 12, 12).to(device).requires_grad_()
    ac = {"device_type": "cuda", "dtype": torch.bfloat16, "enabled": bf16, "cache_enabled": False}
    with no_tf32():
        # autocast inside the captured callable: its backward is captured without autocast, as the
        # eager step's backward() runs outside the autocast block
        step = torch.cuda.make_graphed_callables(_Autocast(graphed, ac), (x,))
        opt_e = torch.optim.SGD(eager.parameters(), lr=1e-3)
        opt_g = torch.optim.SGD(graphed.parameters(), lr=1e-3)
        first = None
        for i in range(3):  # the weights change in place between replays (the output by ~30% a step)
            g = torch.randn(2, 2, 24, 24).to(device)
            outs = []
            for call, opt in ((_Autocast(eager, ac), opt_e), (step, opt_g)):
                opt.zero_grad(set_to_none=True)
                out = call(x)
                out.backward(g.to(out.dtype))
                outs.append(out.detach().float())
                opt.step()
            assert relative_error(outs[1], outs[0]) < tol, f"step {i}"
            first = outs[0] if first is None else first
    # the output moved by far more than the tolerance: a graph replaying stale weights fails above
    assert relative_error(outs[0], first) > 4 * tolerance(torch.bfloat16)
    for pe, pg in zip(eager.parameters(), graphed.parameters()):
        assert relative_error(pg.detach(), pe.detach()) < tol


def test_an_eval_graph_follows_in_place_weight_updates(device):
    """Captured after an eager eval call filled the layer's filter cache, the graph still replays
    the expansion: a weight changed in place afterwards reaches the next replay."""
    _need_cuda(device)
    net = _net(device).eval()
    x = torch.randn(2, 2, 12, 12).to(device)
    with torch.no_grad(), no_tf32():
        before = net(x)  # fills every layer's eval cache
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            net(x)  # warm-up off the capture, as torch's documentation asks
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = net(x)
        for p in net.parameters():
            p.mul_(1.5).add_(0.01)  # in place: the graph reads the same memory
        graph.replay()
        expected = net(x)  # eager: the changed weights' version invalidates the cache
    assert relative_error(expected, before) > 0.1
    assert relative_error(static_out, expected) < tolerance(torch.float32)
