"""One ranking of all gates, layer and channel together, and the smallest prefix of it whose
removal meets the target: the split between layers and channels is whatever the ranking holds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from prunekit.core.analysis.units import removal_edits
from prunekit.core.budget.fractions import KeptFractions
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits, lowest, removal_count, unit
from prunekit.errors import ConfigError

if TYPE_CHECKING:
    from prunekit.methods.adaptive.gates import AdaptiveGates


@dataclass(frozen=True)
class Candidate:
    score: float
    layer: str | None = None  # a unit path, or None for a channel
    group: int = -1
    channel: int = -1


@dataclass
class Allocation:
    units: list[str]
    channels: dict[int, list[int]]  # gated group position -> root channels
    fractions: dict[str, float]
    layer_fractions: dict[str, float]  # what removing the units alone keeps

    def details(self, gates: AdaptiveGates) -> dict[str, Any]:
        stages: dict[str, dict[str, int]] = {}
        gated = {g.unit for g in gates.layers}
        for u in gates.units:
            stage = stages.setdefault(u.path.rpartition(".")[0], {"units": 0, "gated": 0})
            stage["units"] += 1
            stage["gated"] += u.path in gated
            stage["removed"] = stage.get("removed", 0) + (u.path in self.units)
        groups = [
            {"root": g.group.root, "size": g.group.size, "removed": len(self.channels.get(i, []))}
            for i, g in enumerate(gates.channels)
        ]
        return {
            "layers_removed": self.units,
            "layers_gated": len(gates.layers),
            "channels_removed": sum(len(v) for v in self.channels.values()),
            "channels_gated": sum(g.group.size for g in gates.channels),
            "params_removed_by_layers": 1 - self.layer_fractions["params"],
            "params_removed_by_channels": self.layer_fractions["params"] - self.fractions["params"],
            "kept_fractions": self.fractions,
            "stages": stages,
            "groups": groups,
        }


def ranking(
    gates: AdaptiveGates, layer_scores: dict[str, float], channel_scores: list[torch.Tensor]
) -> list[Candidate]:
    per_cost = gates.config.ranking == "per_cost"
    out = [
        Candidate(layer_scores[g.unit] / (g.cost if per_cost else 1), layer=g.unit)
        for g in gates.layers
    ]
    for gate, scores in zip(gates.channels, channel_scores, strict=True):
        divide = gate.cost if per_cost else 1.0
        out.extend(
            Candidate(float(s) / divide, group=gate.position, channel=c)
            for c, s in enumerate(scores.tolist())
        )
    return sorted(out, key=lambda c: c.score)


def allocate(
    gates: AdaptiveGates, layer_scores: dict[str, float], channel_scores: list[torch.Tensor]
) -> Allocation:
    """The shortest prefix of the ranking whose removal meets every target (bisection). When
    the last gate that prefix needs is a whole layer, which may overshoot the target by that
    layer's size, the same prefix without it continued by channels only is tried too, and the
    one that keeps more is taken."""
    order = ranking(gates, layer_scores, channel_scores)
    given = gates.config.target.given()
    model, inputs = gates.model, gates.example_inputs
    kept = KeptFractions(model, inputs, given)

    def select(chosen: list[Candidate]) -> tuple[list[str], dict[int, list[int]]]:
        units = [c.layer for c in chosen if c.layer is not None]
        wanted = Counter(c.group for c in chosen if c.layer is None)
        channels = {}
        for position, n in wanted.items():
            group = gates.channels[position].group
            step = unit(group)
            n = min(n // step * step, removal_count(group, gates.config.max_fraction))
            if n > 0:
                channels[position] = lowest(group, channel_scores[position], n)
        return units, channels

    def fractions(units: list[str], channels: dict[int, list[int]]) -> dict[str, float]:
        return kept.of_plan(edits(gates, units, channels))

    def shortest(order: list[Candidate], low: int) -> tuple[int, dict[str, float]] | None:
        high = len(order)
        found = fractions(*select(order))
        if not _meets(found, given):
            return None
        while high - low > 1:
            middle = (low + high) // 2
            trial = fractions(*select(order[:middle]))
            if _meets(trial, given):
                high, found = middle, trial
            else:
                low = middle
        return high, found

    nothing = fractions([], {})
    if _meets(nothing, given):
        return Allocation([], {}, nothing, nothing)
    first = shortest(order, 0)
    if first is None:
        best = fractions(*select(order))
        raise ConfigError(
            f"AdaptiveConfig.target {given} cannot be met: removing every gated layer and "
            f"{gates.config.max_fraction:.0%} of every gated channel group keeps "
            f"{', '.join(f'{k} {v:.3f}' for k, v in best.items())}; fix: relax the target or "
            "raise max_fraction"
        )
    count, found = first
    chosen = order[:count]
    if order[count - 1].layer is not None:
        rest = [c for c in order[count:] if c.layer is None]
        alternative = order[: count - 1] + rest
        second = shortest(alternative, count - 1)
        if second is not None and second[1]["params"] > found["params"]:
            chosen, found = alternative[: second[0]], second[1]
    units, channels = select(chosen)
    return Allocation(units, channels, found, fractions(units, {}))


def _meets(fractions: dict[str, float], given: dict[str, float]) -> bool:
    return all(fractions[k] <= v + 1e-12 for k, v in given.items())


def edits(gates: AdaptiveGates, units: list[str], channels: dict[int, list[int]]) -> Plan:
    """Channel edits first (paths as in the unedited model), then the unit deletions."""
    groups = [g.group for g in gates.channels]
    channel_part = group_edits(gates.model, groups, channels)
    return Plan([*channel_part, *removal_edits(gates.model, gates.units, units)])


def apply(gates: AdaptiveGates, allocation: Allocation) -> Plan:
    plan = edits(gates, allocation.units, allocation.channels)
    plan.apply(gates.model)
    return plan
