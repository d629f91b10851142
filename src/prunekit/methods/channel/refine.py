"""Close the last gap to the target: the level search moves in jumps (a rounded group gains or
loses a whole unit at once), so afterwards units are given back one at a time while the target
still holds."""

from __future__ import annotations

from collections.abc import Callable

import torch

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.edit.selection import lowest, unit

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
    together: bool = False,
    max_evaluations: int = 48,
) -> tuple[Removal, Fractions, int]:
    """Restore one unit of channels in a group (``together``: in every like group) at a time,
    the best-scored removed ones, keeping each restoration that still meets every target, until
    the binding fraction is within ``tolerance`` of its target or nothing more fits."""

    def close(f: Fractions) -> bool:
        return any(f[k] >= targets[k] * (1.0 - tolerance) for k in targets)

    def meets(f: Fractions) -> bool:
        return all(f[k] <= targets[k] + 1e-12 for k in targets)

    evaluations = 0
    blocked: set[tuple[int, ...]] = set()
    while not close(fractions) and evaluations < max_evaluations:
        candidates = [c for c in _classes(removal, groups, together) if c not in blocked]
        if not candidates:
            break
        # the class whose next unit costs least relative to its groups' size first
        chosen = min(candidates, key=lambda c: unit(groups[c[0]], round_to) / groups[c[0]].size)
        trial = dict(removal)
        for position in chosen:
            group = groups[position]
            count = len(removal[position]) - unit(group, round_to)
            if count > 0:
                trial[position] = lowest(group, scores[position], count)
            else:
                trial.pop(position)
        result = evaluate(trial)
        evaluations += 1
        if meets(result):
            removal, fractions = trial, result
        else:
            blocked.add(chosen)
    return removal, fractions, evaluations


def _classes(removal: Removal, groups: list[ChannelGroup], together: bool) -> list[tuple[int, ...]]:
    """Positions restored together: alone (global ranking), or every group of the same size
    and removal (local ranking keeps same-shaped layers the same, e.g. for HF configs)."""
    if not together:
        return [(p,) for p in removal]
    classes: dict[tuple[int, int, int], list[int]] = {}
    for p in removal:
        classes.setdefault((groups[p].size, groups[p].step, len(removal[p])), []).append(p)
    return [tuple(c) for c in classes.values()]
