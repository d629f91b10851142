"""Which root channels of a group to remove, given scores and a count, respecting its step."""

from __future__ import annotations

import math

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.edit.plan import Edit, channel_edits


def unit(group: ChannelGroup, round_to: int = 1) -> int:
    """What a kept count must be a multiple of: the group's own step and ``round_to``; a group
    smaller than two such units keeps only its own step (rounding would forbid any pruning)."""
    rounded = math.lcm(group.step, max(1, round_to))
    return rounded if group.size >= 2 * rounded else group.step


def removal_count(group: ChannelGroup, fraction: float, round_to: int = 1) -> int:
    """How many channels to remove to remove about ``fraction``, keeping a multiple of the step."""
    step = unit(group, round_to)
    keep = group.size * (1.0 - fraction)
    kept = min(group.size, max(1, round(keep / step)) * step)
    if kept >= group.size:
        return 0
    return group.size - kept


def lowest(group: ChannelGroup, scores: torch.Tensor, count: int) -> list[int]:
    """The ``count`` lowest-scoring root channels; for grouped convolutions the same positions
    are removed in every channel group, so each group keeps the same layout."""
    if count <= 0:
        return []
    cg = group.channel_groups
    if cg > 1:
        per = group.size // cg
        by_position = scores.reshape(cg, per).sum(0)
        positions = torch.argsort(by_position, stable=True)[: count // cg].tolist()
        return sorted(p + g * per for g in range(cg) for p in positions)
    return sorted(torch.argsort(scores, stable=True)[:count].tolist())


def group_edits(
    model: nn.Module, groups: list[ChannelGroup], removal: dict[int, list[int]]
) -> list[Edit]:
    """Plan edits removing, for each group position, the given root channels."""
    items = []
    for position, roots in removal.items():
        for member, local in groups[position].member_removals(roots):
            items.append((member.path, member.dim, local, member.is_parameter))
    return channel_edits(model, items)
