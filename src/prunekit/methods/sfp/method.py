"""SFP and CR-SFP through the structural core: train with soft masks over channel groups, then
export the pruned network (P-NN) physically smaller."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

from prunekit.core.analysis.graph import ChannelGraph
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits
from prunekit.core.model.inputs import ExampleInputs
from prunekit.errors import ConfigError
from prunekit.methods.outcome import MethodOutcome
from prunekit.methods.sfp.config import CRSFPConfig, SFPConfig
from prunekit.methods.sfp.heads import TwoHeads
from prunekit.methods.sfp.loop import train
from prunekit.methods.sfp.masks import GroupMasks, maskable
from prunekit.methods.sfp.norms import following_norms
from prunekit.methods.sfp.rate import chosen_rate
from prunekit.methods.sfp.recalibrate import recalibrate
from prunekit.train.loop import accuracy


def _head_path(graph: ChannelGraph, model: nn.Module) -> str:
    names = {m: n for n, m in model.named_modules()}
    heads = [names[m] for m in graph.output_modules if isinstance(m, nn.Linear)]
    if len(heads) != 1:
        raise ConfigError(
            f"CR-SFP needs one nn.Linear output layer to copy as the R-NN head; "
            f"{type(model).__name__} has {heads or 'none'}"
        )
    return heads[0]


def prune_sfp(
    model: nn.Module,
    config: SFPConfig,
    example_inputs: ExampleInputs,
    train_data: Iterable[Any] | None = None,
    val_data: Iterable[Any] | None = None,
) -> MethodOutcome:
    if train_data is None or not hasattr(train_data, "__len__"):
        raise ConfigError(
            f"{type(config).__name__} trains the model: pass train_data= (a DataLoader)"
        )
    graph = ChannelGraph(model, example_inputs)
    groups = [g for g in graph.groups() if not g.normalising and maskable(model, g)]
    if not groups:
        raise ConfigError(f"{type(model).__name__} has no prunable conv or linear channel group")
    head = _head_path(graph, model) if isinstance(config, CRSFPConfig) else None
    norms = following_norms(model, example_inputs) if config.fold_norms else {}
    rate, latency, latencies = config.rate, None, None
    if config.target is not None:
        rate, latency, latencies = chosen_rate(model, groups, config, example_inputs)
    assert rate is not None
    masks = GroupMasks(groups, rate, norms)
    heads = TwoHeads(model, head, masks)
    history = train(heads, masks, config, train_data, val_data)
    recalibrate(model, masks, train_data)  # the P-NN's own batch-norm statistics
    masked = None
    if val_data is not None:
        with masks.applied(model):
            masked = accuracy(model, val_data)
    plan = Plan(group_edits(model, groups, masks.removed()))
    plan.apply(model)
    details = {
        "history": history,
        "groups": len(groups),
        "rate": rate,
        "channels_removed": sum(len(v) for v in masks.removed().values()),
        "final_gap": history[-1]["gap"] if history else None,
        "masked_accuracy": masked,
    }
    if latency is not None:
        details["latency"] = latency
    return MethodOutcome(model.eval(), plan, details, latencies=latencies)
