"""Containers that check, when the model is built, that the field types line up."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from ..fields import FieldType
from ._module import EquivariantModule

__all__ = ["ResidualBlock", "Sequential"]

# Plain torch modules that act on every channel separately and have no parameters: equivariant on
# fields whose representation permutes channels (trivial, regular), so they keep the type.
_ELEMENTWISE = (
    nn.Identity,
    nn.ReLU,
    nn.ReLU6,
    nn.ELU,
    nn.GELU,
    nn.LeakyReLU,
    nn.SiLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Mish,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.CELU,
    nn.SELU,
)


def _describe(index: Any, module: nn.Module | None) -> str:
    return f"module {index} ({type(module).__name__})"


def _is_permutation_type(t: FieldType) -> bool:
    return all(r.is_permutation for r in t.representations)


class Sequential(EquivariantModule, nn.Sequential):
    """``torch.nn.Sequential`` that checks, when built, that each module's ``out_type`` is the next one's ``in_type``.

    Rules for the modules it holds:

    - eqcnn modules (:class:`EquivariantModule`) must chain: ``a.out_type ==
      b.in_type``; otherwise a ``TypeError`` names both modules and both types.
    - plain elementwise torch activations without parameters (``nn.ReLU``,
      ``nn.ELU``, ``nn.GELU``, ``nn.Identity``...) are accepted after trivial
      or regular fields and keep the type;
    - any other plain torch module (``nn.Flatten``, ``nn.Linear``,
      ``nn.Dropout``...) is accepted only after trivial fields, e.g. after
      :class:`GroupPool` and a global pool: it then sees invariant features and
      its output is invariant, whatever it computes.  The types cannot tell
      whether spatial axes remain: a plain module that mixes pixels of trivial
      maps (a plain ``nn.Conv2d``, ``nn.Flatten`` before a global pool) breaks
      rotation equivariance, which :func:`eqcnn.testing.assert_equivariant`
      reports.  After such a
      module the channel layout is unknown, so only an eqcnn module with trivial
      ``in_type`` may follow (its channel count is checked on the first batch).

    The first module must be an eqcnn module (its ``in_type`` is the
    Sequential's); ``out_type`` is the last known type, or ``None`` when the
    Sequential ends with plain modules (invariant, untyped output).

    Exactly as equivariant as its least equivariant member.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> G = eqcnn.Cyclic(4)
        >>> net = enn.Sequential(
        ...     enn.Conv2d(G.trivial(1), G.regular(4), 3, padding=1),
        ...     enn.ReLU(G.regular(4)),
        ...     enn.GroupPool(G.regular(4)),
        ...     enn.AdaptiveAvgPool2d(G.trivial(4), 1),
        ...     torch.nn.Flatten(),
        ...     torch.nn.Linear(4, 10),
        ... )
        >>> net(torch.randn(2, 1, 9, 9)).shape
        torch.Size([2, 10])
    """

    def __init__(self, *args: Any) -> None:
        nn.Sequential.__init__(self, *args)
        self._retype()

    def _retype(self) -> None:
        mods = list(self._modules.items())
        if not mods:
            raise ValueError("Sequential needs at least one module")
        name0, first = mods[0]
        if not isinstance(first, EquivariantModule) or getattr(first, "in_type", None) is None:
            raise TypeError(
                f"Sequential: the first module ({name0}: {type(first).__name__}) must be an eqcnn module with an "
                "`in_type`; apply plain preprocessing outside the Sequential"
            )
        self.in_type = first.in_type
        current: FieldType | None = None
        invariant = False  # whether untyped data (after a plain module) is invariant
        prev_name, prev = None, None
        for name, m in mods:
            if isinstance(m, EquivariantModule):
                if prev is not None:
                    if current is not None and m.in_type != current:
                        raise TypeError(
                            f"Sequential: {_describe(name, m)} expects in_type {m.in_type!r} but "
                            f"{_describe(prev_name, prev)} produces out_type {current!r}"
                        )
                    if current is None and m.in_type is not None and not m.in_type.is_trivial:
                        raise TypeError(
                            f"Sequential: {_describe(name, m)} expects in_type {m.in_type!r} but follows plain "
                            f"{_describe(prev_name, prev)}, whose output is untyped invariant features; only an "
                            "eqcnn module with trivial in_type may follow a plain module"
                        )
                current = m.out_type
                invariant = False
            elif isinstance(m, _ELEMENTWISE) and current is not None and _is_permutation_type(current):
                pass  # keeps the type
            else:
                if current is not None and not current.is_trivial:
                    hint = " (elementwise activations also fit after trivial or regular fields)"
                    raise TypeError(
                        f"Sequential: {_describe(name, m)} is a plain torch module, but "
                        f"{_describe(prev_name, prev)} produces out_type {current!r}, which is not invariant; "
                        f"plain modules are only allowed after trivial fields (use GroupPool first){hint}"
                    )
                if current is None and not invariant:
                    raise TypeError(f"Sequential: {_describe(name, m)} follows untyped, non-invariant output")
                current = None
                invariant = True
            prev_name, prev = name, m
        self.out_type = current  # type: ignore[assignment]

    def _checked(self, change: Any) -> None:
        """Apply ``change`` to the module list; undo it and raise if the types no longer chain."""
        saved = OrderedDict(self._modules)
        change()
        try:
            self._retype()
        except TypeError:
            self._modules.clear()
            self._modules.update(saved)
            self._retype()
            raise

    def append(self, module: nn.Module) -> Sequential:
        self._checked(lambda: nn.Sequential.append(self, module))
        return self

    def insert(self, index: int, module: nn.Module) -> Sequential:
        self._checked(lambda: nn.Sequential.insert(self, index, module))
        return self

    def extend(self, sequential: Any) -> Sequential:
        self._checked(lambda: nn.Sequential.extend(self, sequential))
        return self

    def __setitem__(self, idx: int, module: nn.Module) -> None:
        self._checked(lambda: nn.Sequential.__setitem__(self, idx, module))

    def __delitem__(self, idx: int | slice) -> None:
        self._checked(lambda: nn.Sequential.__delitem__(self, idx))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        for m in self:
            x = m(x)
        return x

    def export(self) -> nn.Sequential:
        """``torch.nn.Sequential`` of the exported modules (same names)."""
        from ._export import export

        return nn.Sequential(OrderedDict((name, export(m)) for name, m in self._modules.items()))

    def _extra_state_info(self) -> dict[str, Any]:
        return {"in_type": repr(self.in_type), "out_type": repr(self.out_type)}

    def extra_repr(self) -> str:
        return ""


class ResidualBlock(EquivariantModule):
    """``post(body(x) + shortcut(x))``, with the sum type-checked when built.

    Args:
        body: an eqcnn module (e.g. a :class:`Sequential` of convs).
        shortcut: an eqcnn module with the same ``in_type`` and ``out_type`` as
            ``body`` (e.g. a 1x1 :class:`Conv2d` and :class:`BatchNorm2d`), or
            ``None`` for the identity, which needs ``body.in_type == body.out_type``.
        post: an eqcnn module applied to the sum (e.g. :class:`ReLU`), or ``None``.

    Equivariant exactly where ``body``, ``shortcut`` and ``post`` are.

    Shapes: ``(B, body.in_type.size, H, W) -> (B, out_type.size, H', W')``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> t = eqcnn.Cyclic(4).regular(2)
        >>> block = enn.ResidualBlock(enn.Conv2d(t, t, 3, padding=1), post=enn.ReLU(t))
        >>> block(torch.randn(1, 8, 7, 7)).shape
        torch.Size([1, 8, 7, 7])
    """

    def __init__(
        self, body: EquivariantModule, shortcut: EquivariantModule | None = None, post: EquivariantModule | None = None
    ) -> None:
        super().__init__()
        for name, m in (("body", body), ("shortcut", shortcut), ("post", post)):
            if m is not None and not isinstance(m, EquivariantModule):
                raise TypeError(f"`{name}` must be an eqcnn module (EquivariantModule), got {type(m).__name__}")
        if body.out_type is None:
            raise TypeError("`body` must end with a typed eqcnn module (its out_type is None)")
        if shortcut is None:
            if body.in_type != body.out_type:
                raise TypeError(
                    f"ResidualBlock: an identity shortcut needs body.in_type == body.out_type, got "
                    f"{body.in_type!r} and {body.out_type!r}; pass a `shortcut` (e.g. a 1x1 Conv2d)"
                )
        elif shortcut.in_type != body.in_type or shortcut.out_type != body.out_type:
            raise TypeError(
                f"ResidualBlock: shortcut ({type(shortcut).__name__}: {shortcut.in_type!r} -> {shortcut.out_type!r}) "
                f"must map the same types as body ({type(body).__name__}: {body.in_type!r} -> {body.out_type!r})"
            )
        if post is not None and post.in_type != body.out_type:
            raise TypeError(
                f"ResidualBlock: post ({type(post).__name__}) expects in_type {post.in_type!r} but the sum has "
                f"type {body.out_type!r}"
            )
        self.body = body
        self.shortcut = shortcut
        self.post = post
        self.in_type = body.in_type
        self.out_type = body.out_type if post is None else post.out_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        y = self.body(x) + (x if self.shortcut is None else self.shortcut(x))
        return y if self.post is None else self.post(y)

    def export(self) -> nn.Module:
        from ._export import export
        from ._plain import ResidualPlain

        return ResidualPlain(
            export(self.body),
            nn.Identity() if self.shortcut is None else export(self.shortcut),
            nn.Identity() if self.post is None else export(self.post),
        )
