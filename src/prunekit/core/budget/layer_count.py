"""How many layer units to remove for a target (layers, params or MACs of the original), and
the result: the model with those units deleted, and its plan."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from prunekit.core.analysis.units import Unit, most_removable, removal_edits
from prunekit.core.budget.fractions import KeptFractions
from prunekit.core.budget.target import Target
from prunekit.core.edit.plan import Plan
from prunekit.core.model.inputs import ExampleInputs
from prunekit.errors import ConfigError

Select = Callable[[int], list[str]]  # how many to remove -> which unit paths


@dataclass
class LayerChoice:
    removed: list[str]
    fractions: dict[str, float]


def check_target(target: Target, owner: str) -> None:
    if target.features is not None or not target.given():
        raise ConfigError(f"{owner}.target takes layers, params, macs and/or latency, got {target}")


def choose(
    model: nn.Module,
    units: Sequence[Unit],
    example_inputs: ExampleInputs,
    target: Target,
    select: Select,
    extra: Callable[[Plan], dict[str, float]] | None = None,
) -> LayerChoice:
    """The fewest removals meeting every target (bisection on the count; ``select`` decides
    which units). ``extra`` adds fractions counted elsewhere (the predicted latency of a
    plan). A target that removing every removable unit cannot meet raises."""
    removable = most_removable(units)
    given = target.given()
    kept = KeptFractions(model, example_inputs, given)

    def fractions(removed: list[str]) -> dict[str, float]:
        plan = Plan(removal_edits(model, units, removed))
        counted = {"layers": 1 - len(removed) / len(units), **kept.of_plan(plan)}
        return counted if extra is None else {**counted, **extra(plan)}

    def meets(f: dict[str, float]) -> bool:
        return all(f[k] <= v + 1e-12 for k, v in given.items())

    at_least = 0
    if "layers" in given:  # the count the layer target alone asks for
        at_least = len(units) - math.floor(given["layers"] * len(units) + 1e-9)
    if at_least > removable:
        raise ConfigError(
            f"the target {given} needs {at_least} of {len(units)} layer units removed, but only "
            f"{removable} can be ({_not_removable(units)}); "
            f"the best reachable is Target(layers={1 - removable / len(units):.3f})"
        )
    if set(given) == {"layers"}:
        removed = select(at_least)
        return LayerChoice(removed, fractions(removed))
    low, high = max(0, at_least - 1), removable
    every = select(high) if high else []
    best = fractions(every)
    if not meets(best):
        raise ConfigError(
            f"the target {given} cannot be met by removing layer units: removing all "
            f"{removable} removable units of {len(units)} keeps {_fmt(best)}; fix: relax the "
            "target or combine with channel pruning"
        )
    chosen = LayerChoice(every, best)
    while high - low > 1:
        middle = (low + high) // 2
        removed = select(middle)
        result = fractions(removed)
        if meets(result):
            high, chosen = middle, LayerChoice(removed, result)
        else:
            low = middle
    return chosen


def apply(model: nn.Module, units: Sequence[Unit], removed: Sequence[str]) -> nn.Module:
    Plan(removal_edits(model, units, removed)).apply(model)
    return model


def _not_removable(units: Sequence[Unit]) -> str:
    kept = [f"{u.path}: {u.why}" for u in units if not u.removable]
    lists = "every layer list of Hugging Face layers keeps one"
    shown = "; ".join(kept[:3]) + (f"; and {len(kept) - 3} more" if len(kept) > 3 else "")
    return f"{shown}; {lists}" if kept else lists


def _fmt(fractions: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in fractions.items())
