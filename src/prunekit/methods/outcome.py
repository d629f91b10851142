"""What every method returns to ``pk.prune``, and the outcome of removing layer units (shared by
the layer baselines and SGLP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from prunekit.core.analysis.units import Unit, removal_edits
from prunekit.core.edit.plan import Plan


@dataclass
class MethodOutcome:
    """The pruned model, its plan and method details; ``example_inputs`` when the pruned model
    takes other inputs than the original (feature selection reduces them)."""

    model: nn.Module
    plan: Plan
    details: dict[str, Any] = field(default_factory=dict)
    example_inputs: Any = None


def finish_layer_removal(
    model: nn.Module, units: list[Unit], removed: list[str], details: dict[str, Any]
) -> MethodOutcome:
    """Delete the ``removed`` units from ``model``; the details name every unit, the ones kept
    whole with the reason, and the ones removed in model order."""
    plan = Plan(removal_edits(model, units, removed))
    plan.apply(model)
    details = {
        "units": [u.path for u in units],
        "removable": [u.path for u in units if u.removable],
        "kept_whole": {u.path: u.why for u in units if not u.removable},
        "removed": sorted(removed, key=[u.path for u in units].index),
        **details,
    }
    return MethodOutcome(model, plan, details)
