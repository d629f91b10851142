"""Small training and evaluation loops (fine-tuning after pruning, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from prunekit.core.batches import LossFn, batch_inputs, batch_loss, to_device
from prunekit.core.inputs import call_model, model_device, primary_output
from prunekit.errors import ConfigError


def fit(
    model: nn.Module,
    data: Iterable[Any],
    epochs: int,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    loss_fn: LossFn | None = None,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """Train with AdamW and a cosine schedule for ``epochs`` passes over ``data``; returns the
    mean loss of each epoch. ``progress`` shows a bar per epoch."""
    if epochs < 0 or lr <= 0:
        raise ConfigError(f"fit(epochs={epochs}, lr={lr}): epochs >= 0 and lr > 0 required")
    if epochs == 0:
        return []
    torch.manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    steps = epochs * max(1, len(data)) if hasattr(data, "__len__") else None
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps) if steps else None
    losses = []
    model.train()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for batch in tqdm(data, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress):
            optimizer.zero_grad(set_to_none=True)
            loss = batch_loss(model, batch, loss_fn)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            total, count = total + float(loss.detach()), count + 1
        losses.append(total / max(1, count))
    model.eval()
    return losses


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
