"""Induced feature selection: sparse training on whole input features (and hidden groups),
track the zeroed features back to the input, remove them and the weights that read them."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from prunekit.core.batches import LossFn, batch_loss
from prunekit.core.graph import ChannelGraph, ChannelGroup
from prunekit.core.importance import magnitude
from prunekit.core.inputs import ExampleInputs, split_inputs, tensors_of
from prunekit.core.inputs_edit import (
    FeatureSelector,
    InputsEdit,
    input_feature_edits,
    input_readers,
)
from prunekit.core.plan import Plan
from prunekit.core.selection import group_edits
from prunekit.core.verify import zero_producers, zero_readers
from prunekit.errors import ConfigError, InputError
from prunekit.methods.features.config import FeatureConfig
from prunekit.methods.features.schedule import sparsity
from prunekit.methods.outcome import MethodOutcome


def _first_layers(model: nn.Module, example_inputs: ExampleInputs) -> tuple[list[nn.Module], str]:
    readers = input_readers(model, example_inputs)
    if not readers:
        first = next((p for p, m in model.named_modules() if not list(m.children())), "?")
        raise ConfigError(
            f"feature selection needs a first Linear or Conv layer that reads the input; the "
            f"first layer of {type(model).__name__} is {first!r}, or the input is transformed "
            "before any layer reads it"
        )
    modules = [model.get_submodule(p) for p in readers]
    kinds = {isinstance(m, nn.Linear) for m in modules}
    if len(kinds) > 1:
        raise ConfigError(f"the input is read by both Linear and Conv layers ({readers})")
    if any(getattr(m, "groups", 1) != 1 for m in modules):
        raise ConfigError(
            f"first conv layers {readers} are grouped; feature selection needs groups=1"
        )
    return modules, "flat" if kinds == {True} else "channel"


def _feature_scores(modules: list[nn.Module], criterion: str) -> torch.Tensor:
    total = None
    for module in modules:
        w = module.weight.detach()
        if criterion == "taylor":
            if module.weight.grad is None:
                continue
            w = (w * module.weight.grad).abs()
        else:
            w = w.abs()
        per = w.transpose(0, 1).reshape(w.shape[1], -1).mean(1)  # one score per input column
        total = per if total is None else total + per
    return torch.zeros(modules[0].weight.shape[1]) if total is None else total


@torch.no_grad()
def _zero_features(modules: list[nn.Module], masked: torch.Tensor) -> None:
    for module in modules:
        module.weight[:, masked] = 0


def _hidden_groups(model: nn.Module, inputs: ExampleInputs, hidden: float) -> list[ChannelGroup]:
    if hidden <= 0:
        return []
    return [g for g in ChannelGraph(model, inputs).groups() if g.size >= 2 and not g.normalising]


def _lowest(scores: torch.Tensor, count: int) -> torch.Tensor:
    return torch.argsort(scores, stable=True)[:count]


def prune_features(
    model: nn.Module,
    config: FeatureConfig,
    example_inputs: ExampleInputs,
    train_data: Iterable[Any] | None = None,
    loss_fn: LossFn | None = None,
    **_: Any,
) -> MethodOutcome:
    if train_data is None:
        raise ConfigError("FeatureConfig trains with masks: pass train_data= to pk.prune")
    args, kwargs = split_inputs(example_inputs)
    if kwargs or len(args) != 1:
        raise InputError("feature selection needs a model taking one input tensor")
    modules, axis = _first_layers(model, example_inputs)
    shape = tuple(tensors_of(example_inputs)[0].shape[1:])
    size = modules[0].weight.shape[1]
    if config.feature_names is not None and len(config.feature_names) != size:
        raise ConfigError(
            f"FeatureConfig.feature_names has {len(config.feature_names)} names; the input has "
            f"{size} features"
        )
    keep = max(1, math.floor(config.target.features * size + 1e-9))
    groups = _hidden_groups(model, example_inputs, config.hidden)
    steps = config.epochs * max(1, len(train_data)) if hasattr(train_data, "__len__") else None
    if not steps:
        raise ConfigError("FeatureConfig needs a sized train_data (a DataLoader or a list)")
    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )
    step, history = 0, []
    masked = torch.zeros(0, dtype=torch.long)
    removed: dict[int, list[int]] = {}
    model.train()
    for _epoch in range(config.epochs):
        for batch in train_data:
            t = step / max(1, steps - 1)
            s_in = sparsity(t, 1 - keep / size, config.schedule)
            s_hidden = sparsity(t, config.hidden, config.schedule)
            optimizer.zero_grad(set_to_none=True)
            loss = batch_loss(model, batch, loss_fn)
            loss.backward()
            masked = _lowest(_feature_scores(modules, config.criterion), round(s_in * size))
            removed = _hidden_masks(model, groups, s_hidden)
            optimizer.step()
            _zero_features(modules, masked)
            _zero_hidden(model, groups, removed)
            history.append(s_in)
            step += 1
    model.eval()
    masked = _lowest(_feature_scores(modules, "magnitude"), size - keep)
    removed = _hidden_masks(model, groups, config.hidden)
    kept = sorted(set(range(size)) - set(masked.tolist()))
    selector = FeatureSelector(shape, axis, tuple(kept), config.feature_names)
    edits = [InputsEdit(selector), *input_feature_edits(model, kept, example_inputs)]
    edits += group_edits(model, groups, removed)
    scores = _feature_scores(modules, "magnitude")
    plan = Plan(edits)
    plan.apply(model)
    details = {
        "kept_features": kept,
        "kept_names": selector.kept_names,
        "ranked": [selector.kept_names[i] for i in torch.argsort(scores[kept], descending=True)],
        "hidden_removed": sum(len(v) for v in removed.values()),
        "final_sparsity": history[-1] if history else 0.0,
    }
    reduced = selector(tensors_of(example_inputs)[0])
    return MethodOutcome(model, plan, details, reduced)


def _hidden_masks(
    model: nn.Module, groups: list[ChannelGroup], fraction: float
) -> dict[int, list[int]]:
    out = {}
    for position, group in enumerate(groups):
        count = min(group.size - 1, round(fraction * group.size))
        if count > 0:
            out[position] = sorted(_lowest(magnitude(model, group, 1), count).tolist())
    return out


@torch.no_grad()
def _zero_hidden(
    model: nn.Module, groups: list[ChannelGroup], removed: dict[int, list[int]]
) -> None:
    for position, roots in removed.items():
        zero_producers(model, groups[position], roots)
        zero_readers(model, groups[position], roots)
