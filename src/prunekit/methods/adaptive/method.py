"""Adaptive layer + channel pruning: sparse training with gates, one global ranking, removal
through the core, then fine-tuning."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from torch import nn

from prunekit.core.model.batches import LossFn
from prunekit.core.model.inputs import ExampleInputs
from prunekit.errors import ConfigError
from prunekit.methods.adaptive.config import AdaptiveConfig
from prunekit.methods.adaptive.gates import AdaptiveGates
from prunekit.methods.outcome import MethodOutcome
from prunekit.train.loop import fit


def prune_adaptive(
    model: nn.Module,
    config: AdaptiveConfig,
    example_inputs: ExampleInputs,
    train_data: Iterable[Any] | None = None,
    loss_fn: LossFn | None = None,
) -> MethodOutcome:
    if train_data is None and (config.sparse_epochs or config.finetune_epochs):
        raise ConfigError(
            "AdaptiveConfig trains the model (sparse_epochs, finetune_epochs): pass "
            "train_data= (a DataLoader), or set both to 0 to prune by the gates as they are"
        )
    gates = AdaptiveGates(model, config, example_inputs)
    common = {"loss_fn": loss_fn, "seed": config.seed, "progress": config.progress}
    if config.sparse_epochs:
        fit(
            model,
            train_data,  # type: ignore[arg-type]
            config.sparse_epochs,
            lr=config.lr,
            penalty=gates.penalty,
            param_groups=gates.param_groups(),
            on_epoch_end=gates.epoch_end,
            checkpoint_dir=_stage(config.checkpoint_dir, "sparse"),
            **common,
        )
    outcome = gates.prune()
    if config.finetune_epochs:
        losses = fit(
            model,
            train_data,  # type: ignore[arg-type]
            config.finetune_epochs,
            lr=config.finetune_lr,
            checkpoint_dir=_stage(config.checkpoint_dir, "finetune"),
            **common,
        )
        outcome.details["finetune_losses"] = losses
    return outcome


def _stage(root: str | os.PathLike[str] | None, name: str) -> Path | None:
    return None if root is None else Path(root) / name
