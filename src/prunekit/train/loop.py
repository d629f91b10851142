"""Small training and evaluation loops (fine-tuning after pruning, benchmarks)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from prunekit.core.model.batches import LossFn, batch_inputs, batch_loss, to_device
from prunekit.core.model.inputs import call_model, model_device, primary_output
from prunekit.errors import ConfigError
from prunekit.train.engine import Hooks, TrainOptions, train


class _FitHooks(Hooks):
    def __init__(
        self,
        loss_fn: LossFn | None,
        penalty: Callable[[], torch.Tensor] | None,
        on_epoch_end: Callable[[int], None] | None,
    ) -> None:
        self.loss_fn, self.penalty, self.on_epoch_end = loss_fn, penalty, on_epoch_end

    def loss(self, net: nn.Module, batch: Any) -> torch.Tensor:
        loss = batch_loss(net, batch, self.loss_fn)
        return loss if self.penalty is None else loss + self.penalty()

    def end_epoch(self, epoch: int) -> dict[str, float]:
        if self.on_epoch_end is not None:
            self.on_epoch_end(epoch)
        return {}


def fit(
    model: nn.Module,
    data: Iterable[Any],
    epochs: int,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    loss_fn: LossFn | None = None,
    seed: int = 0,
    progress: bool = False,
    penalty: Callable[[], torch.Tensor] | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    param_groups: list[dict[str, Any]] | None = None,
    amp: bool = False,
) -> list[float]:
    """Train with AdamW and a cosine schedule for ``epochs`` passes over ``data``; returns the
    mean loss of each epoch. ``progress`` shows a bar per epoch; ``penalty()`` is added to every
    batch loss (a sparsity regulariser); ``on_epoch_end(epoch)`` runs after each epoch. With
    ``checkpoint_dir`` a checkpoint is written after every epoch and a later call with the same
    arguments resumes after the last finished epoch, with the result of an uninterrupted run.
    ``param_groups`` (optimizer parameter groups, each may set its own ``lr``) replaces the
    default single group of all trainable parameters. Under ``torchrun`` the model is wrapped
    in DistributedDataParallel; ``amp`` uses float16 autocast on CUDA. The loop is
    ``prunekit.train.engine.train``."""
    options = TrainOptions(
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        progress=progress,
        checkpoint_dir=checkpoint_dir,
        amp=amp,
    )
    hooks = _FitHooks(loss_fn, penalty, on_epoch_end)
    return [entry["loss"] for entry in train(model, data, options, hooks, param_groups)]


@torch.no_grad()
def accuracy(model: nn.Module, data: Iterable[Any]) -> float:
    """Top-1 accuracy over (inputs, labels) batches, in eval mode."""
    model.eval()
    device = model_device(model)
    correct = total = 0
    for batch in data:
        inputs = to_device(batch_inputs(batch), device)
        labels = batch[1].to(device)
        predicted = primary_output(call_model(model, inputs)).argmax(-1)
        correct += int((predicted == labels).sum())
        total += int(labels.numel())
    if total == 0:
        raise ConfigError("accuracy() got no batch")
    return correct / total


@torch.no_grad()
def mean_loss(model: nn.Module, data: Iterable[Any], loss_fn: LossFn | None = None) -> float:
    """Mean per-batch loss (for language models: exp of it is the perplexity)."""
    model.eval()
    losses = [float(batch_loss(model, batch, loss_fn)) for batch in data]
    if not losses:
        raise ConfigError("mean_loss() got no batch")
    return sum(losses) / len(losses)
