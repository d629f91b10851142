"""What every method returns to ``pk.prune``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from prunekit.core.plan import Plan


@dataclass
class MethodOutcome:
    """The pruned model, its plan and method details; ``example_inputs`` when the pruned model
    takes other inputs than the original (feature selection reduces them)."""

    model: nn.Module
    plan: Plan
    details: dict[str, Any] = field(default_factory=dict)
    example_inputs: Any = None
