"""What every method returns to ``pk.prune``, and the outcome of removing layer units (shared by
the layer baselines and SGLP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from prunekit.core.analysis.units import Unit, removal_edits
from prunekit.core.budget.layer_count import LayerChoice, Select, choose
from prunekit.core.budget.metrics import Latency
from prunekit.core.budget.target import Target
from prunekit.core.edit.plan import Plan
from prunekit.core.model.inputs import ExampleInputs
from prunekit.latency.goal import LatencyGoal


@dataclass
class MethodOutcome:
    """The pruned model, its plan and method details; ``example_inputs`` when the pruned model
    takes other inputs than the original (feature selection reduces them); ``latencies`` (the
    original's, the pruned model's) when the method timed them against each other."""

    model: nn.Module
    plan: Plan
    details: dict[str, Any] = field(default_factory=dict)
    example_inputs: Any = None
    latencies: tuple[Latency, Latency] | None = None


def choose_layers(
    model: nn.Module,
    units: list[Unit],
    inputs: ExampleInputs,
    config: Any,
    select: Select,
) -> LayerRemoval:
    """The units to remove for ``config.target`` (``select`` decides which for a count). A
    latency target is predicted from the layer tables during the search, then the choice is
    timed against the original (``prunekit.latency.goal``)."""
    target: Target = config.target
    if target.latency is None:
        return LayerRemoval(choose(model, units, inputs, target, select))
    goal = LatencyGoal(model, inputs, config.latency_threads, config.latency_refresh)

    def plan_of(removed: list[str]) -> Plan:
        return Plan(removal_edits(model, units, removed))

    def choose_for(wanted: dict[str, float]) -> LayerChoice:
        predict = lambda plan: {"latency": goal.fraction(plan)}  # noqa: E731
        return choose(model, units, inputs, Target(**wanted), select, predict)

    choice, details, latencies = goal.confirm(
        choose_for(target.given()), target.given(), choose_for, lambda c: plan_of(c.removed)
    )
    return LayerRemoval(choice, details, latencies)


@dataclass
class LayerRemoval:
    """What ``choose_layers`` chose, and the latency check when the target named latency."""

    choice: LayerChoice
    latency: dict[str, Any] | None = None
    latencies: tuple[Latency, Latency] | None = None


def finish_layer_removal(
    model: nn.Module, units: list[Unit], chosen: LayerRemoval, details: dict[str, Any]
) -> MethodOutcome:
    """Delete the chosen units from ``model``; the details name every unit, the ones kept
    whole with the reason, the ones removed in model order, the kept fractions and the latency
    check when there was one."""
    removed = chosen.choice.removed
    plan = Plan(removal_edits(model, units, removed))
    plan.apply(model)
    details = {
        "units": [u.path for u in units],
        "removable": [u.path for u in units if u.removable],
        "kept_whole": {u.path: u.why for u in units if not u.removable},
        "removed": sorted(removed, key=[u.path for u in units].index),
        "kept_fractions": chosen.choice.fractions,
        **details,
    }
    if chosen.latency is not None:
        details["latency"] = chosen.latency
    return MethodOutcome(model, plan, details, latencies=chosen.latencies)
