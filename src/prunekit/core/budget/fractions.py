"""Kept fractions of a pruned model relative to the model it came from: the quantity every
target search bisects on.

A search evaluates many candidate plans. Each is replayed on a skeleton of the model whose
tensors live on PyTorch's ``meta`` device (shapes without storage), so an evaluation costs no
memory per parameter; parameters are counted from the shapes and MACs by a forward pass on
meta inputs. The skeleton is checked once against the real model (same parameters, same
MACs); a model the meta device cannot run (a forward that reads values, for example) is
counted on real copies instead, as before.
"""

from __future__ import annotations

import copy
from collections.abc import Collection

from torch import nn

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.budget.metrics import count_macs, count_params
from prunekit.core.edit.plan import Plan, PlanError
from prunekit.core.edit.selection import group_edits
from prunekit.core.model.copies import meta_skeleton, on_meta
from prunekit.core.model.inputs import ExampleInputs

# what a model the meta device cannot run raises; the count then falls back to real copies
_META_FAILURES = (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError)


class KeptFractions:
    """Params (and MACs, when ``wanted`` names them) of a pruned model over ``model``'s, counted
    once for ``model``; MACs on ``inputs``."""

    def __init__(self, model: nn.Module, inputs: ExampleInputs, wanted: Collection[str]) -> None:
        self.model, self.inputs = model, inputs
        self.base = {"params": count_params(model)}
        if "macs" in wanted:
            self.base["macs"] = count_macs(model, inputs)
        self.skeleton: nn.Module | None = meta_skeleton(model)
        try:
            self.meta_inputs = on_meta(inputs)
            same = self._count(self.skeleton, self.meta_inputs) == self.base
        except _META_FAILURES:  # includes the InputError of a forward the meta device cannot run
            same = False
        if not same:
            self.skeleton = None

    def of(self, pruned: nn.Module) -> dict[str, float]:
        return self._fractions(self._count(pruned, self.inputs))

    def of_plan(self, plan: Plan) -> dict[str, float]:
        """The fractions ``model`` keeps once ``plan`` is applied; ``model`` is not touched."""
        return self._fractions(self.counts_of_plan(plan))

    def counts_of_plan(self, plan: Plan) -> dict[str, int]:
        """Params (and MACs) of ``model`` once ``plan`` is applied; ``model`` is not touched."""
        if self.skeleton is not None:
            try:
                trial = plan_copy(plan).apply(copy.deepcopy(self.skeleton))
                return self._count(trial, self.meta_inputs)
            except PlanError:
                raise  # a plan that does not fit the model: the same on real tensors
            except _META_FAILURES:
                self.skeleton = None  # this model needs real tensors: count on copies from now
        return self._count(plan_copy(plan).apply(copy.deepcopy(self.model)), self.inputs)

    def of_removal(
        self, groups: list[ChannelGroup], removal: dict[int, list[int]]
    ) -> dict[str, float]:
        """The fractions ``model`` keeps with ``removal`` (group position -> root channels)."""
        return self.of_plan(Plan(group_edits(self.model, groups, removal)))

    def _count(self, model: nn.Module, inputs: ExampleInputs) -> dict[str, int]:
        counts = {"params": count_params(model)}
        if "macs" in self.base:
            counts["macs"] = count_macs(model, inputs)
        return counts

    def _fractions(self, counts: dict[str, int]) -> dict[str, float]:
        return {k: counts[k] / max(1, self.base[k]) for k in self.base}


def plan_copy(plan: Plan) -> Plan:
    """A plan whose ``apply`` cannot append to ``plan`` (applying adds attribute edits)."""
    return Plan(list(plan.edits))
