"""Which root channels of a group to remove, given scores and a count, respecting its step."""

from __future__ import annotations

import torch
from torch import nn

from prunekit.core.graph import ChannelGroup
from prunekit.core.plan import Edit, channel_edits


def max_removable(group: ChannelGroup, round_to: int = 1) -> int:
    """The most channels that can go while at least one step (or ``round_to``) remains."""
    unit = _unit(group, round_to)
    return max(0, group.size - unit)


def _unit(group: ChannelGroup, round_to: int) -> int:
    import math

    return math.lcm(group.step, max(1, round_to))


def removal_count(group: ChannelGroup, fraction: float, round_to: int = 1) -> int:
    """How many channels to remove to remove about ``fraction``, keeping a multiple of the step."""
    unit = _unit(group, round_to)
    keep = group.size * (1.0 - fraction)
    keep_units = max(1, round(keep / unit))
    kept = min(group.size, keep_units * unit)
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
