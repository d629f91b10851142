"""``pk.prune``: one entry point for every method, chosen by the config's type."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from prunekit.core.budget.metrics import Metrics, measure
from prunekit.core.edit.plan import Plan
from prunekit.core.model.inputs import ExampleInputs, split_inputs
from prunekit.core.model.modes import eval_mode
from prunekit.core.scoring.gradients import LossFn
from prunekit.errors import ConfigError, InputError
from prunekit.methods.config_base import LatencyTargetConfig, targets_in
from prunekit.methods.registry import MethodEntry, entries, entry_for
from prunekit.models.hf import hf_spec
from prunekit.models.spec import ModelSpec, attach_plan, attach_spec, plan_of, spec_of


@dataclass
class PruneResult:
    """What ``pk.prune`` returns: the smaller model, the plan of this call's edits and
    before/after metrics. ``result.model`` also carries every edit made to its base since it was
    built (its lineage: earlier pk.prune calls, or the plan pk.load replayed), which pk.save
    writes, so a model pruned twice saves and loads like any other."""

    model: nn.Module
    plan: Plan
    before: Metrics
    after: Metrics
    config: Any
    details: dict[str, Any] = field(default_factory=dict)
    base: ModelSpec | None = None

    def summary(self) -> str:
        ratio = self.after.ratio(self.before)
        lines = [
            f"{type(self.config).__name__}: {len(self.plan)} edits",
            f"  params {self.before.params:,} -> {self.after.params:,} (kept {ratio.params:.2%})",
            f"  MACs   {self.before.macs:,} -> {self.after.macs:,} (kept {ratio.macs:.2%})",
        ]
        if ratio.speedup is not None:
            lines.append(
                f"  latency speedup {ratio.speedup:.2f}x "
                f"({self.before.latency} -> {self.after.latency})"
            )
        timed = self.details.get("latency")
        if timed and timed.get("note"):
            lines.append(f"  latency target {timed['target']}: {timed['note']}")
        elif timed:
            lines.append(
                f"  latency target {timed['target']}: measured {timed['measured']:.3f} "
                f"(noise {timed['noise']:.1%}, interleaved), {_MET[timed['met']]}"
                f"; tables predicted {timed['predicted']:.3f} "
                f"(error {timed['prediction_error']:+.1%})"
            )
            final = timed.get("final")
            if final:
                lines.append(
                    f"  after the basis stage: measured {final['measured']:.3f} "
                    f"(noise {final['noise']:.1%}), {_MET[final['met']]}"
                )
        skipped = self.details.get("skipped_groups") or []
        if skipped:
            lines.append(f"  {len(skipped)} channel groups left whole (see details)")
        return "\n".join(lines)


def prune(
    model: nn.Module,
    config: Any,
    example_inputs: ExampleInputs | None = None,
    train_data: Iterable[Any] | None = None,
    val_data: Iterable[Any] | None = None,
    loss_fn: LossFn | None = None,
    inplace: bool = False,
) -> PruneResult:
    """Prune ``model`` with the method that ``config``'s type names.

    The caller's model is left untouched (a deep copy is pruned) unless ``inplace=True``; each
    submodule's train/eval mode is restored on the returned model. With ``inplace=True`` an
    error raised part-way (e.g. double pruning's final latency check finding the result slower
    than the original) can leave ``model`` partly pruned: no copy is kept to restore it from.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    if example_inputs is None:
        raise InputError(
            "pk.prune needs example_inputs (e.g. torch.randn(1, 3, 224, 224)) to "
            "trace the model and measure it"
        )
    split_inputs(example_inputs)
    entry = entry_for(config)
    given = {"train_data": train_data, "val_data": val_data, "loss_fn": loss_fn}
    given = {name: value for name, value in given.items() if value is not None}
    _refuse_what_is_not_taken(entry, given)
    _refuse_latency_target(config)
    base = spec_of(model) or hf_spec(model)  # before any edit (inplace=True edits model)
    history = plan_of(model)  # edits already applied to the base (a model pruned before)
    modes = {name: module.training for name, module in model.named_modules()}
    work = model if inplace else copy.deepcopy(model)
    before = measure(model, example_inputs)
    with eval_mode(work):
        outcome = entry.prune(work, config, example_inputs, **given)
    pruned = outcome.model
    for name, module in pruned.named_modules():
        module.training = modes.get(name, module.training)
    if base is not None:
        attach_spec(pruned, base)
    attach_plan(pruned, Plan([*history.edits, *outcome.plan.edits]))
    after_inputs = outcome.example_inputs  # feature selection reduces them
    after = measure(pruned, example_inputs if after_inputs is None else after_inputs)
    if outcome.latencies is not None:  # timed against each other by the method
        before = dataclasses.replace(before, latency=outcome.latencies[0])
        after = dataclasses.replace(after, latency=outcome.latencies[1])
    return PruneResult(pruned, outcome.plan, before, after, config, outcome.details, base)


def _refuse_what_is_not_taken(entry: MethodEntry, given: dict[str, Any]) -> None:
    """An argument the method would not use is an error, never silently dropped (a loss_fn
    passed to SFP would otherwise train with cross-entropy)."""
    for name in given:
        if name not in entry.takes:
            takers = [f"pk.{e.config.__name__}" for e in entries() if name in e.takes]
            raise ConfigError(
                f"{entry.config.__name__} does not take {name}=: it would be ignored, never "
                f"used; fix: drop {name}=, or use a method that takes it ({', '.join(takers)})"
            )


_MET = {"yes": "met", "within noise": "met within the noise", "no": "MISSED"}


def _refuse_latency_target(config: Any) -> None:
    """A latency target held by a config that cannot prune to one is an error, not ignored."""
    for where, owner, target in targets_in(config):
        if target.latency is not None and not isinstance(owner, LatencyTargetConfig):
            takers = ", ".join(
                f"pk.{e.config.__name__}"
                for e in entries()
                if issubclass(e.config, LatencyTargetConfig)
            )
            raise ConfigError(
                f"{where}.latency is {target.latency}: {type(owner).__name__} does not prune "
                f"to a latency target ({takers} do, and DoubleConfig in its channel stage); fix: "
                "give it params= or macs= and check the speed with pk.measure(model, inputs, "
                "latency=True), or prune channels with "
                "pk.ChannelConfig(target=pk.Target(latency=...))"
            )
