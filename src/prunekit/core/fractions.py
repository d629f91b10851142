"""Kept fractions of a pruned model relative to the model it came from: the quantity every
target search bisects on."""

from __future__ import annotations

import copy
from collections.abc import Collection

from torch import nn

from prunekit.core.graph import ChannelGroup
from prunekit.core.inputs import ExampleInputs
from prunekit.core.metrics import count_macs, count_params
from prunekit.core.plan import Plan
from prunekit.core.selection import group_edits


class KeptFractions:
    """Params (and MACs, when ``wanted`` names them) of a pruned model over ``model``'s, counted
    once for ``model``; MACs on ``inputs``."""

    def __init__(self, model: nn.Module, inputs: ExampleInputs, wanted: Collection[str]) -> None:
        self.model, self.inputs = model, inputs
        self.base = {"params": count_params(model)}
        if "macs" in wanted:
            self.base["macs"] = count_macs(model, inputs)

    def of(self, pruned: nn.Module) -> dict[str, float]:
        out = {"params": count_params(pruned) / self.base["params"]}
        if "macs" in self.base:
            out["macs"] = count_macs(pruned, self.inputs) / max(1, self.base["macs"])
        return out

    def of_removal(
        self, groups: list[ChannelGroup], removal: dict[int, list[int]]
    ) -> dict[str, float]:
        """The fractions ``model`` keeps with ``removal`` (group position -> root channels)."""
        trial = copy.deepcopy(self.model)
        Plan(group_edits(self.model, groups, removal)).apply(trial)
        return self.of(trial)
