"""Normalisation over fields: BatchNorm2d (one statistic per field) and GroupNorm."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_dtype, check_int, check_number, check_probability
from ..fields import FieldType
from ._fieldutil import channel_fields, check_dims, check_field_type
from ._module import EquivariantModule
from ._plain import GroupNormPlain, field_group_norm

__all__ = ["BatchNorm2d", "BatchNorm3d", "GroupNorm"]


class _FieldAffine(EquivariantModule):
    """Shared bookkeeping: per-channel field index, invariant projector and bias basis, by runs."""

    _field_index: torch.Tensor
    _field_counts: torch.Tensor
    _bias_basis: torch.Tensor
    _inv_q: torch.Tensor

    def _setup_fields(self, in_type: FieldType, factory: dict[str, Any]) -> None:
        self.in_type = self.out_type = in_type
        self.num_fields = len(in_type)
        self.register_buffer("_field_index", torch.tensor(channel_fields(in_type), dtype=torch.long), persistent=False)
        sizes = [float(r.size) for r in in_type.representations]
        self.register_buffer("_field_counts", torch.tensor(sizes, **factory), persistent=False)
        # bias basis: column j of the invariant basis lives in one field; expand bias (n_inv,) -> (C,)
        inv = in_type.invariant_basis
        self.num_invariant = inv.shape[1] if inv.size else 0
        self.register_buffer(
            "_bias_basis",
            torch.as_tensor(inv if inv.size else np.zeros((in_type.size, 0)), **factory),
            persistent=False,
        )
        self._bias_is_identity = self.num_invariant == in_type.size and bool(np.array_equal(inv, np.eye(in_type.size)))
        # orthogonal projector onto the invariant vectors (block diagonal, by field)
        q = np.linalg.qr(inv)[0] if self.num_invariant else np.zeros((in_type.size, 0))
        self.register_buffer("_inv_q", torch.as_tensor(q, **factory), persistent=False)

    def _channel_weight(self, weight: torch.Tensor) -> torch.Tensor:
        return weight.index_select(0, self._field_index)

    def _channel_bias(self, bias: torch.Tensor) -> torch.Tensor:
        return bias if self._bias_is_identity else self._bias_basis.to(bias.dtype) @ bias

    def _project_invariant(self, m: torch.Tensor) -> torch.Tensor:
        """Project channel vectors ``(..., C)`` onto the invariant subspace of each field."""
        q = self._inv_q.to(m.dtype)
        return (m @ q) @ q.T


class _BatchNormNd(_FieldAffine):
    """The batch norm of :class:`BatchNorm2d` and :class:`BatchNorm3d`, for ``_dims`` spatial dimensions."""

    running_mean: torch.Tensor | None
    running_var: torch.Tensor | None
    num_batches_tracked: torch.Tensor | None
    _dims = 2
    _torch_bn: type[nn.BatchNorm2d] | type[nn.BatchNorm3d] = nn.BatchNorm2d

    def __init__(
        self,
        in_type: FieldType,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        check_field_type("in_type", in_type)
        check_dims(type(self).__name__, in_type, self._dims)
        self.spatial_dims = self._dims
        if in_type.size == 0:
            raise ValueError(f"`in_type` must have at least one channel, got {in_type!r}")
        if dtype is not None:
            check_dtype("dtype", dtype)
        self.eps = check_number("eps", eps, minimum=0)
        if momentum is not None:
            check_probability("momentum", momentum)
        factory = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        self._setup_fields(in_type, factory)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.weight: nn.Parameter | None = nn.Parameter(torch.ones(self.num_fields, **factory))
            self.bias: nn.Parameter | None = nn.Parameter(torch.zeros(self.num_invariant, **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", torch.zeros(in_type.size, **factory))
            self.register_buffer("running_var", torch.ones(self.num_fields, **factory))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()  # type: ignore[union-attr]
            self.running_var.fill_(1.0)  # type: ignore[union-attr]
            self.num_batches_tracked.zero_()  # type: ignore[union-attr]

    def _field_mean(self, v: torch.Tensor) -> torch.Tensor:
        """Average a per-channel vector ``(C,)`` over each field's channels -> ``(F,)``."""
        out = v.new_zeros(self.num_fields).index_add_(0, self._field_index, v)
        return out / self._field_counts.to(v.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if x.dim() == self._dims + 1:
            return self.forward(x[None])[0]
        use_batch = self.training or not self.track_running_stats
        if use_batch and x.numel() == x.shape[1]:
            # as torch: the batch statistics of one pixel of one sample would zero trivial fields
            raise ValueError(
                f"{type(self).__name__}: Expected more than 1 value per channel when training, got input size "
                f"{x.size()}"
            )
        axes = (0, *range(2, x.dim()))  # batch and pixels (voxels)
        col = (1, -1) + (1,) * self._dims
        if use_batch:
            stat_x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
            mean = self._project_invariant(stat_x.mean(dim=axes))
            centred = stat_x - mean.view(col)
            var = self._field_mean(centred.pow(2).mean(dim=axes))
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    self.num_batches_tracked.add_(1)  # type: ignore[union-attr]
                    if self.momentum is None:
                        factor = 1.0 / float(self.num_batches_tracked)  # type: ignore[arg-type]
                    else:
                        factor = self.momentum
                    n = x.numel() // x.shape[1]
                    unbiased = var * (n / max(n - 1, 1))
                    self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)  # type: ignore[union-attr]
                    self.running_var.mul_(1 - factor).add_(unbiased.detach(), alpha=factor)  # type: ignore[union-attr]
            centred = centred.to(x.dtype) if centred.dtype != x.dtype else centred
        else:
            mean, var = self.running_mean, self.running_var  # type: ignore[assignment]
            centred = x - mean.to(x.dtype).view(col)  # type: ignore[union-attr]
        scale = torch.rsqrt(var + self.eps)  # type: ignore[operator]
        if self.weight is not None:
            scale = scale * self.weight
        out = centred * self._channel_weight(scale).to(centred.dtype).view(col)
        if self.bias is not None and self.num_invariant:
            out = out + self._channel_bias(self.bias).to(out.dtype).view(col)
        return out

    def export(self) -> nn.Module:
        """A ``torch.nn.BatchNorm2d`` (``BatchNorm3d``) equal to this layer in eval mode."""
        C = self.in_type.size
        ref = self.running_mean if self.running_mean is not None else self._inv_q
        bn: nn.BatchNorm2d | nn.BatchNorm3d = self._torch_bn(
            C, self.eps, self.momentum, self.affine, self.track_running_stats, device=ref.device, dtype=ref.dtype
        )
        with torch.no_grad():
            if self.affine:
                bn.weight.copy_(self._channel_weight(self.weight))  # type: ignore[arg-type]
                bias = self._channel_bias(self.bias) if self.num_invariant else torch.zeros(C)  # type: ignore[arg-type]
                bn.bias.copy_(bias)
            if self.track_running_stats:
                bn.running_mean.copy_(self.running_mean)  # type: ignore[union-attr,arg-type]
                bn.running_var.copy_(self._channel_weight(self.running_var))  # type: ignore[union-attr,arg-type]
                bn.num_batches_tracked.copy_(self.num_batches_tracked)  # type: ignore[union-attr,arg-type]
        return bn.train(self.training)

    def extra_repr(self) -> str:
        s = f"{self.in_type!r}"
        if self.eps != 1e-5:
            s += f", eps={self.eps}"
        if self.momentum != 0.1:
            s += f", momentum={self.momentum}"
        if not self.affine:
            s += ", affine=False"
        if not self.track_running_stats:
            s += ", track_running_stats=False"
        return s


class BatchNorm2d(_BatchNormNd):
    r"""Batch normalisation with one statistic per field, shared by its channels.

    For each field ``v`` (a group of ``d`` channels) the layer subtracts the
    batch mean of ``v`` projected onto the field's invariant vectors (for a
    regular field: the mean over its channels, pixels and batch; for an irreps
    field without invariant part: nothing), divides by the root mean square of
    the centred field (one number per field) and applies one learnt scale per
    field and a learnt bias on the invariant part only.  Every step commutes
    with the representation, so the layer is exactly equivariant (in training
    and eval mode) wherever the pixel action is exact.

    With ``eqcnn.Trivial()`` (all fields trivial) it is ``torch.nn.BatchNorm2d``:
    the same parameters, buffers and outputs.

    Arguments mirror ``torch.nn.BatchNorm2d`` with ``in_type`` in place of
    ``num_features``.  ``running_mean`` has one entry per channel (already
    projected), ``running_var`` one per field.

    As torch, it refuses to take batch statistics (in training mode, or
    without running statistics) of one value per channel (input ``(1, C, 1,
    1)``): a ``ValueError``, before the running statistics change.

    :meth:`export` gives a ``torch.nn.BatchNorm2d`` that computes the same
    function in eval mode (running statistics); in training mode its per-channel
    batch statistics differ unless all fields are trivial.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> bn = enn.BatchNorm2d(eqcnn.Cyclic(4).regular(3))
        >>> bn(torch.randn(4, 12, 5, 5)).shape
        torch.Size([4, 12, 5, 5])
        >>> bn.weight.shape, bn.bias.shape
        (torch.Size([3]), torch.Size([3]))
    """

    _dims = 2
    _torch_bn: type[nn.BatchNorm2d] | type[nn.BatchNorm3d] = nn.BatchNorm2d


class BatchNorm3d(_BatchNormNd):
    """:class:`BatchNorm2d` for volumes ``(B, C, D, H, W)``: one statistic per field, shared by its channels
    and voxels; with ``eqcnn.Trivial()`` it is ``torch.nn.BatchNorm3d``, and :meth:`export` gives one.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> enn.BatchNorm3d(eqcnn.Octahedral().regular(2))(torch.randn(2, 48, 4, 4, 4)).shape
        torch.Size([2, 48, 4, 4, 4])
    """

    _dims = 3
    _torch_bn: type[nn.BatchNorm2d] | type[nn.BatchNorm3d] = nn.BatchNorm3d


class GroupNorm(_FieldAffine):
    r"""Group normalisation over groups of whole fields (``num_groups=1``: a layer norm).

    The fields are split into ``num_groups`` consecutive groups of equal field
    count.  For each sample and group the layer subtracts the mean over the
    channels of the group's permutation fields (trivial, regular: subtracting
    one number from every channel of such a field is equivariant; irreps
    fields are not centred), divides by the root mean square over all channels
    and pixels of the group, then applies one scale per field and a bias on the
    invariant part.  Exactly equivariant wherever the pixel action is exact.

    With ``eqcnn.Trivial()`` it is ``torch.nn.GroupNorm(num_groups, C)``,
    which refuses a batch of one sample with one value per group (input
    ``(1, C, 1, 1)`` with ``C == num_groups``); so does this layer.

    Arguments mirror ``torch.nn.GroupNorm`` with ``in_type`` in place of
    ``num_channels``.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.

    Example:
        >>> import torch, eqcnn
        >>> from eqcnn import nn as enn
        >>> gn = enn.GroupNorm(2, eqcnn.Dihedral(4).regular(4))
        >>> gn(torch.randn(2, 32, 5, 5)).shape
        torch.Size([2, 32, 5, 5])
    """

    _group_index: torch.Tensor
    _mean_all: torch.Tensor
    _mean_perm: torch.Tensor
    _perm_mask: torch.Tensor

    def __init__(
        self,
        num_groups: int,
        in_type: FieldType,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        check_int("num_groups", num_groups, minimum=1)
        check_field_type("in_type", in_type)
        if len(in_type) == 0 or len(in_type) % num_groups:
            raise ValueError(
                f"the number of fields of `in_type` (={len(in_type)}) must be divisible by `num_groups` "
                f"(={num_groups}); got {in_type!r}"
            )
        if dtype is not None:
            check_dtype("dtype", dtype)
        factory = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        self._setup_fields(in_type, factory)
        self.num_groups = int(num_groups)
        self.eps = check_number("eps", eps, minimum=0)
        self.affine = bool(affine)
        per = len(in_type) // num_groups
        group_of_channel = [f // per for f in channel_fields(in_type)]
        perm_channel = []
        for rep in in_type.representations:
            perm_channel.extend([rep.is_permutation] * rep.size)
        g = torch.tensor(group_of_channel)
        m_all = torch.zeros(num_groups, in_type.size, **factory)
        m_all[g, torch.arange(in_type.size)] = 1.0
        m_perm = m_all * torch.tensor(perm_channel, **factory)
        self.register_buffer("_group_index", g, persistent=False)
        self.register_buffer("_mean_all", m_all / m_all.sum(1, keepdim=True), persistent=False)
        counts = m_perm.sum(1, keepdim=True)
        self.register_buffer("_mean_perm", m_perm / counts.clamp_min(1.0), persistent=False)
        self.register_buffer("_perm_mask", torch.tensor(perm_channel, **factory), persistent=False)
        self._all_permutation = all(perm_channel)
        if self.affine:
            self.weight: nn.Parameter | None = nn.Parameter(torch.ones(self.num_fields, **factory))
            self.bias: nn.Parameter | None = nn.Parameter(torch.zeros(self.num_invariant, **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = self.check_input(x)
        if x.dim() == dims + 1:  # unbatched
            return self.forward(x[None])[0]
        if x.shape[0] * (x.shape[1] // self.num_groups) * x[0, 0].numel() == 1:
            # as torch.nn.GroupNorm: one value per group normalises to zero
            raise ValueError(
                f"GroupNorm: expected more than 1 value per group of channels, got input size {x.size()} with "
                f"num_groups={self.num_groups} (torch.nn.GroupNorm refuses it too)"
            )
        weight = None if self.weight is None else self._channel_weight(self.weight)
        bias = self._channel_bias(self.bias) if self.bias is not None and self.num_invariant else None
        return field_group_norm(
            x, self._mean_perm, self._mean_all, self._group_index, self._perm_mask, weight, bias, self.eps
        )

    def export(self) -> nn.Module:
        """``torch.nn.GroupNorm`` when the fields are permutation fields in equal-sized groups, else a
        small plain module (``GroupNormPlain``) holding the averaging matrices."""
        sizes = self._mean_all.gt(0).sum(1)
        if not (self._all_permutation and bool((sizes == sizes[0]).all())):
            weight = None if self.weight is None else self._channel_weight(self.weight)
            bias = self._channel_bias(self.bias) if self.bias is not None and self.num_invariant else None
            return GroupNormPlain(
                self._mean_perm, self._mean_all, self._group_index, self._perm_mask, weight, bias, self.eps
            )
        C = self.in_type.size
        gn = nn.GroupNorm(self.num_groups, C, self.eps, self.affine, device=self._mean_all.device)
        if self.affine:
            with torch.no_grad():
                gn.weight.copy_(self._channel_weight(self.weight))  # type: ignore[arg-type]
                gn.bias.copy_(self._channel_bias(self.bias) if self.num_invariant else torch.zeros(C))  # type: ignore[arg-type]
        return gn

    def extra_repr(self) -> str:
        s = f"{self.num_groups}, {self.in_type!r}"
        if self.eps != 1e-5:
            s += f", eps={self.eps}"
        if not self.affine:
            s += ", affine=False"
        return s
