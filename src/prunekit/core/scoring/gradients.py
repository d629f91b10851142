"""Gradients of a loss over a few batches, for gradient-based importance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from prunekit.core.model.batches import LossFn, batch_loss
from prunekit.core.model.modes import eval_mode
from prunekit.core.model.ranks import distributed, sum_over_ranks
from prunekit.errors import InputError

__all__ = ["LossFn", "accumulate_gradients"]


def accumulate_gradients(
    model: nn.Module, data: Iterable[Any], loss_fn: LossFn | None, batches: int
) -> int:
    """Sum the gradients of the loss (``batch_loss``: tuples or Hugging Face dict batches, labels
    checked) over at most ``batches`` batches into ``.grad``, in eval mode (batch-norm statistics
    are not touched); under torch.distributed, summed over the ranks too. Returns the number of
    batches used."""
    model.zero_grad(set_to_none=True)
    used = 0
    with eval_mode(model), torch.enable_grad():
        for batch in data:
            if used >= batches:
                break
            batch_loss(model, batch, loss_fn).backward()
            used += 1
    if distributed():  # each rank saw its own shard: sum the gradients over the ranks
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        count = torch.tensor([used], dtype=torch.int64)
        sum_over_ranks([*grads, count])
        used = int(count[0])
    if used == 0:
        raise InputError("train_data yielded no batch; gradient-based importance needs data")
    return used
