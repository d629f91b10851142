"""Induced feature selection: sparse training on whole input features (and hidden groups),
track the zeroed features back to the input, remove them and the weights that read them."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGraph, ChannelGroup
from prunekit.core.checks.verify import zero_producers, zero_readers
from prunekit.core.edit.inputs_edit import InputsEdit
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits
from prunekit.core.model.batches import LossFn, batch_loss
from prunekit.core.model.inputs import ExampleInputs, split_inputs, tensors_of
from prunekit.core.scoring.importance import magnitude
from prunekit.errors import ConfigError, InputError
from prunekit.methods.features.config import FeatureConfig
from prunekit.methods.features.inputs import Columns, Patches
from prunekit.methods.features.schedule import sparsity
from prunekit.methods.outcome import MethodOutcome
from prunekit.train.engine import Hooks, TrainOptions, train


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
) -> MethodOutcome:
    if train_data is None:
        raise ConfigError("FeatureConfig trains with masks: pass train_data= to pk.prune")
    args, kwargs = split_inputs(example_inputs)
    if kwargs or len(args) != 1:
        raise InputError("feature selection needs a model taking one input tensor")
    shape = tuple(tensors_of(example_inputs)[0].shape[1:])
    steps = config.epochs * max(1, len(train_data)) if hasattr(train_data, "__len__") else None
    if not steps:
        raise ConfigError("FeatureConfig needs a sized train_data (a DataLoader or a list)")
    features: Columns | Patches = (
        Columns(model, example_inputs)
        if config.patch is None
        else Patches(model, example_inputs, config.patch)
    )
    size = features.size
    try:
        if config.feature_names is not None and len(config.feature_names) != size:
            unit = "patches" if config.patch else "features"
            raise ConfigError(
                f"FeatureConfig.feature_names has {len(config.feature_names)} names; the input "
                f"has {size} {unit}"
            )
        keep = max(1, math.floor(config.target.features * size + 1e-9))
        groups = _hidden_groups(model, example_inputs, config.hidden)
        history = _sparse_training(
            model, config, features, groups, train_data, keep, steps, loss_fn
        )
    except BaseException:
        features.close()
        raise
    model.eval()
    scores = features.scores("magnitude")
    masked = _lowest(scores, size - keep)
    removed = _hidden_masks(model, groups, config.hidden)
    kept = sorted(set(range(size)) - set(masked.tolist()))
    selector = features.selector(shape, kept, config.feature_names)
    plan = Plan([InputsEdit(selector), *features.edits_before(model, kept)])
    plan.extend(group_edits(model, groups, removed))
    plan.apply(model)
    plan.extend(features.finish(model, kept))
    details = {
        "kept_features": kept,
        "kept_names": selector.kept_names,
        "ranked": [selector.kept_names[i] for i in torch.argsort(scores[kept], descending=True)],
        "hidden_removed": sum(len(v) for v in removed.values()),
        "final_sparsity": history[-1] if history else 0.0,
    }
    reduced = selector(tensors_of(example_inputs)[0])
    return MethodOutcome(model, plan, details, reduced)


class _SparseHooks(Hooks):
    """Feature and hidden masks recomputed from the scores before every optimiser step and
    re-applied after it; ``history`` is the input sparsity of every step."""

    def __init__(
        self,
        model: nn.Module,
        config: FeatureConfig,
        features: Columns | Patches,
        groups: list[ChannelGroup],
        keep: int,
        steps: int,
        loss_fn: LossFn | None,
    ) -> None:
        self.model, self.config, self.features, self.groups = model, config, features, groups
        self.keep, self.steps, self.loss_fn = keep, steps, loss_fn
        self.step, self.history = 0, []
        self.running: torch.Tensor | None = None  # Taylor scores averaged over the steps
        self.masked: torch.Tensor = torch.zeros(0, dtype=torch.long)
        self.removed: dict[int, list[int]] = {}

    def loss(self, net: nn.Module, batch: Any) -> torch.Tensor:
        return batch_loss(net, batch, self.loss_fn)

    def after_backward(self) -> None:
        size, config = self.features.size, self.config
        t = self.step / max(1, self.steps - 1)
        self.s_in = sparsity(t, 1 - self.keep / size, config.schedule)
        s_hidden = sparsity(t, config.hidden, config.schedule)
        scores = self.features.scores(config.criterion)
        if config.criterion == "taylor":
            self.running = scores if self.running is None else 0.9 * self.running + 0.1 * scores
            scores = self.running
        self.masked = _lowest(scores, round(self.s_in * size))
        self.removed = _hidden_masks(self.model, self.groups, s_hidden)

    def after_step(self) -> None:
        self.features.zero(self.masked)
        _zero_hidden(self.model, self.groups, self.removed)
        self.history.append(self.s_in)
        self.step += 1

    def extra_state(self) -> dict[str, torch.Tensor]:
        out = {f"input.{k}": v for k, v in self.features.state().items()}
        out["history"] = torch.tensor(self.history, dtype=torch.float64)
        if self.running is not None:
            out["running"] = self.running
        return out

    def load_extra_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.features.load_state(
            {k.removeprefix("input."): v for k, v in tensors.items() if k.startswith("input.")}
        )
        self.history = tensors["history"].tolist()
        self.step = len(self.history)
        self.running = tensors.get("running")


def _sparse_training(
    model: nn.Module,
    config: FeatureConfig,
    features: Columns | Patches,
    groups: list[ChannelGroup],
    train_data: Iterable[Any],
    keep: int,
    steps: int,
    loss_fn: LossFn | None,
) -> list[float]:
    """AdamW at a constant rate on the model and the input gate (``prunekit.train.engine``);
    returns the input sparsity per step."""
    options = TrainOptions(
        epochs=config.epochs,
        lr=config.lr,
        weight_decay=config.weight_decay,
        schedule="constant",
        seed=config.seed,
        checkpoint_dir=config.checkpoint_dir,
    )
    params = [p for p in model.parameters() if p.requires_grad] + features.parameters()
    hooks = _SparseHooks(model, config, features, groups, keep, steps, loss_fn)
    train(model, train_data, options, hooks, [{"params": params}])
    return hooks.history


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
