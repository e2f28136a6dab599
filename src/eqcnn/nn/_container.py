"""Containers that check, when the model is built, that the field types line up."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .._checks import describe
from ..fields import FieldType
from ._fieldutil import check_field_type
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


def _typed(m: nn.Module) -> bool:
    return isinstance(m, EquivariantModule) and getattr(m, "in_type", None) is not None


def _chain(mods: list[tuple[str, nn.Module]], in_type: FieldType | None) -> list[FieldType | None]:
    """The type entering each module and, last, the output type (``None``: untyped invariant data).

    Raises if the modules do not chain (see :class:`Sequential`); changes nothing.
    """
    if not mods:
        raise ValueError("Sequential needs at least one module")
    name0, first = mods[0]
    if in_type is None and not _typed(first):
        raise TypeError(
            f"Sequential: the first module ({name0}: {type(first).__name__}) must be an eqcnn module with an "
            "`in_type`, or the Sequential needs `in_type=` (the type of its input); apply plain preprocessing "
            "outside the Sequential"
        )
    current: FieldType | None = in_type if in_type is not None else first.in_type  # type: ignore[assignment]
    types: list[FieldType | None] = []
    invariant = False  # whether untyped data (after a plain module) is invariant
    prev_name, prev = None, None
    for name, m in mods:
        types.append(current)
        source = "the Sequential's `in_type` is" if prev is None else f"{_describe(prev_name, prev)} produces out_type"
        if isinstance(m, EquivariantModule):
            if current is not None and m.in_type != current:
                raise TypeError(
                    f"Sequential: {_describe(name, m)} expects in_type {m.in_type!r} but {source} {current!r}"
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
                    f"Sequential: {_describe(name, m)} is a plain torch module, but {source} {current!r}, which is "
                    f"not invariant; plain modules are only allowed after trivial fields (use GroupPool first){hint}"
                )
            if current is None and not invariant:
                raise TypeError(f"Sequential: {_describe(name, m)} follows untyped, non-invariant output")
            current = None
            invariant = True
        prev_name, prev = name, m
    types.append(current)
    return types


def _unbatched_volume(module: EquivariantModule, x: torch.Tensor) -> bool:
    """Whether ``x`` is an unbatched volume ``(C, D, H, W)`` entering a ``Trivial()`` container of volumes.

    Only there is a 4-D tensor ambiguous: ``Trivial()`` serves images and volumes, so a pointwise layer
    inside would read it as a batch of images. The container runs it as a batch of one instead.
    """
    return x.dim() == 4 and module.in_type.group.spatial_dims is None and module.input_dims() == 3


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

    The first module is an eqcnn module (its ``in_type`` is the
    Sequential's), or any module accepted on ``in_type`` by the rules above
    when the keyword ``in_type`` gives the type of the input (``enn.Sequential(
    nn.ReLU(), enn.Conv2d(t, t, 3), in_type=t)``); a given ``in_type`` is the
    Sequential's, and the first eqcnn module must expect it.  ``out_type`` is
    the last known type, or ``None`` when the Sequential ends with plain
    modules (invariant, untyped output).

    Indexing, slicing and editing work as in ``torch.nn.Sequential``.  A slice
    is an eqcnn ``Sequential`` of the modules it picks (with their names): one
    that starts at a plain module gets, as ``in_type``, the type the full
    container feeds that module, so ``net[1:]`` works when ``net[1]`` is a
    ``nn.ReLU`` after a conv; one that starts in untyped data (after
    ``nn.Flatten``...) has no type to check and is a plain
    ``torch.nn.Sequential``, as is an empty slice.  Edits (``append``,
    ``insert``, ``extend``, ``+=``, ``*=``, item assignment, ``del``,
    ``pop``) are checked before they are made: one that breaks the chain, or
    would leave the container empty, raises and changes nothing.  ``+`` and
    ``*`` give a new checked ``Sequential``.

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
        >>> net[3:].in_type, net[3:].out_type
        (Cyclic(4).trivial(4), None)
    """

    _declared_in_type: FieldType | None = None  # the keyword `in_type`

    def __init__(self, *args: Any, in_type: FieldType | None = None) -> None:
        if in_type is not None:
            check_field_type("in_type", in_type)
        if not (len(args) == 1 and isinstance(args[0], OrderedDict)):
            for i, m in enumerate(args):
                if not isinstance(m, nn.Module):
                    raise TypeError(
                        f"Sequential: argument {i} must be a torch.nn.Module (or the one argument an OrderedDict of "
                        f"them), got {describe(m)}"
                    )
        nn.Sequential.__init__(self, *args)
        self._declared_in_type = in_type
        types = _chain(list(self._modules.items()), in_type)
        self.in_type = types[0]  # type: ignore[assignment]
        self.out_type = types[-1]  # type: ignore[assignment]

    def _checked(self, change: Callable[[nn.Sequential], Any]) -> Any:
        """Make ``change`` on a scratch copy of the module list, check the types there, then adopt it."""
        scratch = nn.Sequential(OrderedDict(self._modules))
        result = change(scratch)
        items = list(scratch._modules.items())
        types = _chain(items, self._declared_in_type)  # raises before anything here changed
        self._modules.clear()
        self._modules.update(items)
        self.in_type = types[0]  # type: ignore[assignment]
        self.out_type = types[-1]  # type: ignore[assignment]
        return result

    def __getitem__(self, idx: int | slice) -> Any:
        if not isinstance(idx, slice):
            return nn.Sequential.__getitem__(self, idx)
        items = list(self._modules.items())
        picked = range(len(items))[idx]
        if not picked:
            return nn.Sequential()
        chosen = [items[i] for i in picked]
        entering = _chain(items, self._declared_in_type)[picked[0]]
        if _typed(chosen[0][1]):
            return Sequential(OrderedDict(chosen))
        if entering is None:
            return nn.Sequential(OrderedDict(chosen))  # untyped (invariant) data: nothing to check
        return Sequential(OrderedDict(chosen), in_type=entering)

    def append(self, module: nn.Module) -> Sequential:
        self._checked(lambda s: nn.Sequential.append(s, module))
        return self

    def insert(self, index: int, module: nn.Module) -> Sequential:
        self._checked(lambda s: nn.Sequential.insert(s, index, module))
        return self

    def extend(self, sequential: Any) -> Sequential:
        self._checked(lambda s: nn.Sequential.extend(s, sequential))
        return self

    def __setitem__(self, idx: int, module: nn.Module) -> None:
        self._checked(lambda s: nn.Sequential.__setitem__(s, idx, module))

    def __delitem__(self, idx: int | slice) -> None:
        self._checked(lambda s: nn.Sequential.__delitem__(s, idx))

    def pop(self, key: int | slice) -> nn.Module:
        return self._checked(lambda s: nn.Sequential.pop(s, key))

    def __iadd__(self, other: Any) -> Sequential:
        self._checked(lambda s: nn.Sequential.__iadd__(s, other))
        return self

    def __imul__(self, other: int) -> Sequential:
        self._checked(lambda s: nn.Sequential.__imul__(s, other))
        return self

    def __add__(self, other: Any) -> Sequential:
        joined = nn.Sequential.__add__(self, other)  # torch's checks of `other`
        return Sequential(*joined, in_type=self._declared_in_type)

    def __mul__(self, other: int) -> Sequential:
        repeated = nn.Sequential.__mul__(self, other)
        return Sequential(*repeated, in_type=self._declared_in_type)

    def __rmul__(self, other: int) -> Sequential:
        return self.__mul__(other)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if _unbatched_volume(self, x):
            y = self.forward(x[None])
            return tuple(t[0] for t in y) if isinstance(y, tuple) else y[0]
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
        return "" if self._declared_in_type is None else f"in_type={self._declared_in_type!r}"


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
        if _unbatched_volume(self, x):  # as a batch of one (see Sequential)
            return self.forward(x[None])[0]
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
