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
from typing import Any

import torch
from torch import nn

from prunekit.core.graph import ChannelGroup
from prunekit.core.inputs import ExampleInputs
from prunekit.core.metrics import count_macs, count_params
from prunekit.core.plan import Plan
from prunekit.core.selection import group_edits

# what a model the meta device cannot run raises; the count then falls back to real copies
_META_FAILURES = (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError)


def meta_skeleton(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers are meta tensors of the same shapes,
    dtypes and sharing (tied parameters stay one tensor); no tensor data is copied."""
    memo: dict[int, Any] = {}
    for tensor in model.parameters():
        memo[id(tensor)] = nn.Parameter(
            torch.empty_like(tensor, device="meta"), requires_grad=tensor.requires_grad
        )
    for tensor in model.buffers():
        memo[id(tensor)] = torch.empty_like(tensor, device="meta")
    return copy.deepcopy(model, memo)


def on_meta(inputs: Any) -> Any:
    """``inputs`` with every tensor moved to the meta device (structure kept)."""
    if isinstance(inputs, torch.Tensor):
        return inputs.to("meta")
    if isinstance(inputs, dict):
        return {k: on_meta(v) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(on_meta(v) for v in inputs)  # type: ignore[call-arg]
    return inputs


class KeptFractions:
    """Params (and MACs, when ``wanted`` names them) of a pruned model over ``model``'s, counted
    once for ``model``; MACs on ``inputs``."""

    def __init__(self, model: nn.Module, inputs: ExampleInputs, wanted: Collection[str]) -> None:
        self.model, self.inputs = model, inputs
        self.base = {"params": count_params(model)}
        if "macs" in wanted:
            self.base["macs"] = count_macs(model, inputs)
        self.skeleton: nn.Module | None = meta_skeleton(model)
        self.meta_inputs = on_meta(inputs)
        try:
            same = self._count(self.skeleton, self.meta_inputs) == self.base
        except _META_FAILURES:
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
