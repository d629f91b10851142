"""Small training and evaluation loops (fine-tuning after pruning, benchmarks)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from prunekit.core.batches import LossFn, batch_inputs, batch_loss, to_device
from prunekit.core.inputs import call_model, model_device, primary_output
from prunekit.errors import ConfigError
from prunekit.train.checkpoint import load_checkpoint, save_checkpoint


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
) -> list[float]:
    """Train with AdamW and a cosine schedule for ``epochs`` passes over ``data``; returns the
    mean loss of each epoch. ``progress`` shows a bar per epoch; ``penalty()`` is added to every
    batch loss (a sparsity regulariser); ``on_epoch_end(epoch)`` runs after each epoch. With
    ``checkpoint_dir`` a checkpoint is written after every epoch and a later call with the same
    arguments resumes after the last finished epoch, with the result of an uninterrupted run.
    ``param_groups`` (optimizer parameter groups, each may set its own ``lr``) replaces the
    default single group of all trainable parameters."""
    if epochs < 0 or lr <= 0:
        raise ConfigError(f"fit(epochs={epochs}, lr={lr}): epochs >= 0 and lr > 0 required")
    if epochs == 0:
        return []
    torch.manual_seed(seed)
    params = param_groups or [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    steps = epochs * max(1, len(data)) if hasattr(data, "__len__") else None
    schedule = None
    if steps:  # closed-form cosine: the step count alone sets the rate, so resuming is exact
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
        )
    losses: list[float] = []
    start = 0
    restored = load_checkpoint(checkpoint_dir, model, optimizer) if checkpoint_dir else None
    if restored is not None:
        state = restored[1]
        start, losses = int(state["epoch"]) + 1, list(state["losses"])
        if schedule is not None:
            schedule.last_epoch = start * max(1, len(data))  # type: ignore[arg-type]
    model.train()
    for epoch in range(start, epochs):
        if checkpoint_dir:
            seed_epoch(data, seed, epoch)
        total, count = 0.0, 0
        for batch in tqdm(data, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress):
            optimizer.zero_grad(set_to_none=True)
            loss = batch_loss(model, batch, loss_fn)
            if penalty is not None:
                loss = loss + penalty()
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            total, count = total + float(loss.detach()), count + 1
        losses.append(total / max(1, count))
        if on_epoch_end is not None:
            on_epoch_end(epoch)
            model.train()
        if checkpoint_dir:
            state = {"epoch": epoch, "losses": losses}
            save_checkpoint(checkpoint_dir, model, optimizer, {}, state)
    model.eval()
    return losses


def seed_epoch(data: Any, seed: int, epoch: int) -> None:
    """The same data order and random draws for an epoch whether or not the run resumed."""
    torch.manual_seed(seed * 100_003 + epoch)
    generator = getattr(data, "generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(seed * 100_003 + epoch)
    sampler = getattr(data, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


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
