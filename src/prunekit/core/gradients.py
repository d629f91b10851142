"""Gradients of a loss over a few batches, for gradient-based importance."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from prunekit.core.inputs import model_device
from prunekit.core.modes import eval_mode
from prunekit.errors import InputError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def accumulate_gradients(
    model: nn.Module, data: Iterable[Any], loss_fn: LossFn | None, batches: int
) -> int:
    """Sum the gradients of ``loss_fn`` over at most ``batches`` batches into ``.grad``
    (eval mode: batch-norm statistics are not touched). Returns the number of batches used."""
    loss_fn = loss_fn or nn.functional.cross_entropy
    device = model_device(model)
    model.zero_grad(set_to_none=True)
    used = 0
    with eval_mode(model), torch.enable_grad():
        for batch in data:
            if used >= batches:
                break
            if not isinstance(batch, list | tuple) or len(batch) < 2:
                raise InputError(
                    f"train_data must yield (inputs, targets) batches; got {type(batch).__name__}"
                )
            inputs, targets = batch[0].to(device), batch[1].to(device)
            loss = loss_fn(model(inputs), targets)
            if not math.isfinite(float(loss.detach())):
                raise InputError(
                    f"the loss is {float(loss.detach())} on batch {used}: the data or the "
                    "model produce NaN/inf; fix the data before pruning"
                )
            loss.backward()
            used += 1
    if used == 0:
        raise InputError("train_data yielded no batch; gradient-based importance needs data")
    return used
