"""Close the last gap to the target: the level search moves in jumps (a rounded group gains or
loses a whole unit at once), so afterwards units are given back one at a time while the target
still holds."""

from __future__ import annotations

from collections.abc import Callable

import torch

from prunekit.core.graph import ChannelGroup
from prunekit.core.selection import lowest, unit

Removal = dict[int, list[int]]
Fractions = dict[str, float]


def give_back(
    removal: Removal,
    fractions: Fractions,
    evaluate: Callable[[Removal], Fractions],
    groups: list[ChannelGroup],
    scores: list[torch.Tensor],
    targets: dict[str, float],
    tolerance: float,
    round_to: int,
    max_evaluations: int = 48,
) -> tuple[Removal, Fractions, int]:
    """Restore one unit of channels in a group at a time (the best-scored removed ones), keeping
    each restoration that still meets every target, until the binding fraction is within
    ``tolerance`` of its target or nothing more fits."""

    def close(f: Fractions) -> bool:
        return any(f[k] >= targets[k] * (1.0 - tolerance) for k in targets)

    def meets(f: Fractions) -> bool:
        return all(f[k] <= targets[k] + 1e-12 for k in targets)

    evaluations = 0
    blocked: set[int] = set()
    while not close(fractions) and evaluations < max_evaluations:
        candidates = [p for p in removal if p not in blocked]
        if not candidates:
            break
        # the group whose next unit costs least relative to its size first
        position = min(candidates, key=lambda p: unit(groups[p], round_to) / groups[p].size)
        group = groups[position]
        count = len(removal[position]) - unit(group, round_to)
        trial = dict(removal)
        if count > 0:
            trial[position] = lowest(group, scores[position], count)
        else:
            trial.pop(position)
        result = evaluate(trial)
        evaluations += 1
        if meets(result):
            removal, fractions = trial, result
        else:
            blocked.add(position)
    return removal, fractions, evaluations
