"""export(): turn an eqcnn model into plain PyTorch modules."""

from __future__ import annotations

import copy

from torch import nn

from ._module import EquivariantModule

__all__ = ["export"]


def export(module: nn.Module) -> nn.Module:
    """A plain PyTorch copy of ``module`` that computes the same function.

    Every eqcnn layer is replaced by its :meth:`EquivariantModule.export`
    (``Conv2d`` -> ``torch.nn.Conv2d`` with the expanded filter,
    ``BatchNorm2d`` -> ``torch.nn.BatchNorm2d``, pooling -> torch pooling,
    ``Sequential`` -> ``torch.nn.Sequential``...; the few layers torch lacks
    become the small modules of ``eqcnn.nn._plain``, which use torch
    operations only).  Plain modules are copied and searched recursively, so a
    custom ``nn.Module`` keeps its own ``forward`` with exported children.

    The result has no filter bases or type checks, works with
    ``torch.jit.script``, ``torch.jit.trace`` and ``torch.onnx.export``, and
    matches the original's outputs in eval mode (batch normalisation exports its
    running statistics).  The original is not modified; the copy keeps its
    ``training`` flag.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> net = enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(2), 3), enn.ReLU(G.regular(2))).eval()
        >>> plain = enn.export(net)
        >>> plain
        Sequential(
          (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))
          (1): ReLU()
        )
        >>> x = torch.randn(1, 1, 7, 7)
        >>> torch.allclose(plain(x), net(x), atol=1e-6)
        True
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"`module` must be a torch.nn.Module, got {type(module).__name__}")
    if isinstance(module, EquivariantModule):
        return module.export()
    if not any(isinstance(m, EquivariantModule) for m in module.modules()):
        return copy.deepcopy(module)
    if type(module) in (nn.Sequential, nn.ModuleList, nn.ModuleDict):
        out = type(module)()
        for name, child in module._modules.items():
            out.add_module(name, None if child is None else export(child))
        return out.train(module.training)
    # a custom module: copy it without the children, then put the exported children back
    children = module._modules
    module._modules = {}
    try:
        out = copy.deepcopy(module)
    finally:
        module._modules = children
    for name, child in children.items():
        out._modules[name] = None if child is None else export(child)  # type: ignore[arg-type]
    return out
