"""From group scores and a level in [0, 1] to the root channels each group removes."""

from __future__ import annotations

import math

import torch

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.edit.selection import lowest, removal_count, unit

Removal = dict[int, list[int]]  # group position -> root channels to remove


def _cap(group: ChannelGroup, max_fraction: float, round_to: int) -> int:
    return removal_count(group, max_fraction, round_to)


def local_removal(
    groups: list[ChannelGroup],
    scores: list[torch.Tensor],
    level: float,
    max_fraction: float,
    round_to: int,
) -> Removal:
    """Every group removes the same fraction (``level * max_fraction``) of its channels."""
    out: Removal = {}
    for i, (group, score) in enumerate(zip(groups, scores, strict=True)):
        count = min(
            removal_count(group, level * max_fraction, round_to),
            _cap(group, max_fraction, round_to),
        )
        if count:
            out[i] = lowest(group, score, count)
    return out


def global_removal(
    groups: list[ChannelGroup],
    scores: list[torch.Tensor],
    level: float,
    max_fraction: float,
    round_to: int,
    fill: bool = False,
) -> Removal:
    """The ``level`` share of all removable channels with the lowest normalised scores (each
    group's scores divided by their mean; ties broken by group order), rounded per group to its
    step and capped. A group's picks beyond its cap are dropped; with ``fill`` they go to the
    next-lowest channels of other groups instead, so that level 1 removes every group's cap
    (the most this configuration can remove)."""
    caps = [_cap(g, max_fraction, round_to) for g in groups]
    budget = round(level * sum(caps))
    if budget <= 0:
        return {}
    normalised = [s / s.mean().clamp_min(1e-30) for s in scores]
    owners = torch.cat([torch.full((len(n),), i) for i, n in enumerate(normalised)])
    order = torch.argsort(torch.cat(normalised), stable=True)
    if fill:
        wanted = [0] * len(groups)
        for owner in owners[order].tolist():
            if budget <= 0:
                break
            if wanted[owner] < caps[owner]:
                wanted[owner] += 1
                budget -= 1
    else:
        wanted = torch.bincount(owners[order[:budget]], minlength=len(groups)).tolist()
    out: Removal = {}
    for i, (group, score, cap) in enumerate(zip(groups, normalised, caps, strict=True)):
        if cap == 0 or wanted[i] == 0:
            continue
        step = unit(group, round_to)
        kept = min(group.size, max(step, math.ceil((group.size - wanted[i]) / step) * step))
        count = min(group.size - kept, cap)
        if count > 0:
            out[i] = lowest(group, score, count)
    return out
