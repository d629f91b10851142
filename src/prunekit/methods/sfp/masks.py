"""Soft masks over the core's channel groups: scores of the filters that produce each root
channel, the lowest ``rate`` masked, outputs masked in the forward pass (no gradient reaches a
masked filter through it), weights zeroed at epoch ends (SFP)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.edit.selection import lowest, removal_count
from prunekit.core.edit.slicers import slicer_of
from prunekit.core.edit.surgery import get_module
from prunekit.methods.sfp.norms import PRODUCERS, folded_scale

_MASKABLE = (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._BatchNorm)


def maskable(model: nn.Module, group: ChannelGroup) -> bool:
    """Groups whose channels are produced only by convs, linears and batch norms."""
    outs = [m for m in group.members if m.dim == "out"]
    return (
        bool(outs)
        and all(
            not m.is_parameter and isinstance(get_module(model, m.path), _MASKABLE) for m in outs
        )
        and any(isinstance(get_module(model, m.path), PRODUCERS) for m in outs)
    )


class _MaskOutput(torch.autograd.Function):
    """y = x * m; the backward multiplies the gradient by m too, so masked filters get none."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (mask,) = ctx.saved_tensors
        return grad * mask, None


def _rows(
    model: nn.Module, group: ChannelGroup, grads: bool, folds: dict[str, torch.Tensor]
) -> torch.Tensor:
    """One row per root channel: the producing filters' weights (or w * grad), concatenated;
    a producer in ``folds`` has its rows scaled by that per-channel factor."""
    parts = []
    for member, roots in zip(group.members, group.member_roots, strict=True):
        module = get_module(model, member.path) if not member.is_parameter else None
        if member.dim != "out" or not isinstance(module, PRODUCERS):
            continue
        weight = module.weight.detach()
        if grads:
            grad = module.weight.grad
            weight = (weight * grad).abs() if grad is not None else torch.zeros_like(weight)
        rows = weight.flatten(1)[list(member.indices)].double().cpu()  # scores on CPU
        if member.path in folds:
            rows = rows * folds[member.path][list(member.indices)].unsqueeze(1)
        block = torch.zeros(group.size, rows.shape[1], dtype=torch.float64)
        block.index_add_(0, torch.as_tensor(roots), rows)
        parts.append(block)
    return torch.cat(parts, 1)


def scores(
    model: nn.Module,
    group: ChannelGroup,
    criterion: str,
    folds: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """l2: the norm of each root's producing filters; taylor: sum |w * dL/dw| over them; fpgm:
    the summed distance to every other root's filters (near the geometric median = lowest).
    ``folds``: per-channel factors folded into a producer's filters first (l2 and fpgm)."""
    if criterion == "taylor":
        return _rows(model, group, grads=True, folds={}).sum(1)
    rows = _rows(model, group, grads=False, folds=folds or {})
    if criterion == "fpgm":
        return torch.cdist(rows, rows).sum(1)
    return rows.norm(dim=1)


class GroupMasks:
    """One 0/1 mask per group over its root channels."""

    def __init__(
        self, groups: list[ChannelGroup], rate: float, norms: dict[str, str] | None = None
    ) -> None:
        """``norms``: {producer path: batch norm path} whose scale is folded into the producer's
        filters before scoring (see ``norms.following_norms``); empty: raw filters."""
        self.groups, self.rate, self.norms = groups, rate, norms or {}
        self.masks = [torch.ones(g.size) for g in groups]

    def update(self, model: nn.Module, criterion: str, stats: nn.Module | None = None) -> None:
        """Masks from ``model``'s filters; the folded batch norms' statistics are read from
        ``stats`` (a copy with recomputed statistics, say), by default ``model``."""
        source = stats if stats is not None else model
        folds = {p: folded_scale(get_module(source, n)) for p, n in self.norms.items()}
        for i, group in enumerate(self.groups):
            count = removal_count(group, self.rate)
            mask = torch.ones(group.size)
            mask[lowest(group, scores(model, group, criterion, folds), count)] = 0
            self.masks[i] = mask

    def removed(self) -> dict[int, list[int]]:
        return {
            i: torch.nonzero(m == 0).flatten().tolist()
            for i, m in enumerate(self.masks)
            if bool((m == 0).any())
        }

    @torch.no_grad()
    def zero_weights(self, model: nn.Module) -> None:
        """Zero the masked filters of convs and linears (as SFP does); norm affines stay, so a
        zeroed filter still receives gradient and can regrow."""
        for position, roots in self.removed().items():
            for member, local in self.groups[position].member_removals(roots):
                if member.dim != "out" or member.is_parameter:
                    continue
                module = get_module(model, member.path)
                if isinstance(module, PRODUCERS):
                    module.weight[local] = 0
                    if module.bias is not None:
                        module.bias[local] = 0

    def kept_fraction(self) -> float:
        total = sum(g.size for g in self.groups)
        return sum(float(m.sum()) for m in self.masks) / max(1, total)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Mask the output channels of every producer of a masked root (the P-NN)."""
        local: dict[str, torch.Tensor] = {}
        for position, roots in self.removed().items():
            for member, indices in self.groups[position].member_removals(roots):
                if member.dim != "out" or member.is_parameter:
                    continue
                module = get_module(model, member.path)
                if member.path not in local:
                    size = module.weight.shape[0] if hasattr(module, "weight") else 0
                    local[member.path] = torch.ones(size)
                local[member.path][indices] = 0
        handles = []
        for path, mask in local.items():
            module = get_module(model, path)

            def hook(_m: nn.Module, _args: Any, output: torch.Tensor, mask: Any = mask) -> Any:
                shape = [1] * output.dim()
                axis = slicer_of(_m).channel_axis(_m)
                shape[axis] = -1
                m = mask.to(output.device, output.dtype).reshape(shape)
                return _MaskOutput.apply(output, m)

            handles.append(module.register_forward_hook(hook))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
