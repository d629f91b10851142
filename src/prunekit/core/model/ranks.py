"""Sums over the processes of ``torch.distributed`` (``torchrun``), so that what each rank
measures on its own shard of the data (gradients, scores, statistics) becomes the same value
on every rank, and every rank takes the same pruning decision. Without an initialised process
group these are no-ops."""

from __future__ import annotations

import torch
import torch.distributed as dist


def distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def sum_over_ranks(tensors: list[torch.Tensor]) -> None:
    """Replace every tensor by its sum over the ranks, in place (one collective per tensor:
    every rank must call this with the same shapes, in the same order)."""
    if not distributed():
        return
    for tensor in tensors:
        dist.all_reduce(tensor)
