"""Per-channel importance of a group: magnitude (L1, L2), BN scale, first-order Taylor, random.

Scores are indexed by the group's root channels: the contribution of every member (the weights
that produce a channel and the weights that read it) is mapped back to the root channel.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGroup, Member
from prunekit.core.edit.slicers import slicer_for
from prunekit.core.edit.surgery import get_module

CRITERIA = ("l1", "l2", "taylor", "bn", "random")
_BATCHNORM = nn.modules.batchnorm._BatchNorm


def per_channel(module: nn.Module, dim: str, values: torch.Tensor) -> torch.Tensor | None:
    """Sum of ``values`` (shaped like ``module.weight``) over everything but the ``dim`` channel."""
    slicer = slicer_for(module)
    return None if slicer is None else slicer.per_channel(module, dim, values)


def _accumulate(
    model: nn.Module,
    group: ChannelGroup,
    value_of: Callable[[nn.Module, Member], torch.Tensor | None],
) -> torch.Tensor:
    scores = torch.zeros(group.size, dtype=torch.float64)
    for member, roots in zip(group.members, group.member_roots, strict=True):
        if member.is_parameter:
            continue
        module = get_module(model, member.path)
        contribution = value_of(module, member)
        if contribution is None:
            continue
        local = torch.as_tensor(member.indices, dtype=torch.long)
        root = torch.as_tensor(roots, dtype=torch.long)
        scores.index_add_(0, root, contribution.detach().double().cpu()[local])
    return scores


def magnitude(model: nn.Module, group: ChannelGroup, p: int) -> torch.Tensor:
    """Sum over members of |w|^p of the weights that produce or read each channel."""

    def value(module: nn.Module, member: Member) -> torch.Tensor | None:
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor):
            return None
        return per_channel(module, member.dim, weight.detach().abs().pow(p))

    return _accumulate(model, group, value)


def bn_scale(model: nn.Module, group: ChannelGroup) -> torch.Tensor | None:
    """|gamma| of the group's batch-norm layers; None for a group without one."""
    if not any(
        isinstance(get_module(model, m.path), _BATCHNORM)
        for m in group.members
        if not m.is_parameter
    ):
        return None

    def value(module: nn.Module, member: Member) -> torch.Tensor | None:
        if isinstance(module, _BATCHNORM) and module.weight is not None:
            return module.weight.detach().abs()
        return None

    return _accumulate(model, group, value)


def taylor(model: nn.Module, group: ChannelGroup) -> torch.Tensor | None:
    """First-order Taylor: (sum of w * dL/dw over each channel's weights)^2, summed over members.
    Needs gradients accumulated in ``.grad`` (see ``accumulate_gradients``)."""

    def value(module: nn.Module, member: Member) -> torch.Tensor | None:
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.grad is None:
            return None
        summed = per_channel(module, member.dim, (weight.detach() * weight.grad))
        return None if summed is None else summed.pow(2)

    return _accumulate(model, group, value)


def random_scores(group: ChannelGroup, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(group.size, generator=generator, dtype=torch.float64)


def group_scores(
    model: nn.Module, group: ChannelGroup, criterion: str, generator: torch.Generator
) -> torch.Tensor | None:
    """Scores of one group by ``criterion``; None when the criterion does not apply to it."""
    if criterion == "l1":
        return magnitude(model, group, 1)
    if criterion == "l2":
        return magnitude(model, group, 2)
    if criterion == "bn":
        return bn_scale(model, group)
    if criterion == "taylor":
        return taylor(model, group)
    if criterion == "random":
        return random_scores(group, generator)
    raise ValueError(f"unknown importance {criterion!r}; expected one of {', '.join(CRITERIA)}")
