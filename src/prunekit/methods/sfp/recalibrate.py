"""Batch-norm statistics recomputed on training batches: for the pruned network (P-NN) with the
masks applied, so that its evaluation and export do not use the full network's statistics; for
the reconstructed network (R-NN) without masks, so that its evaluation does not use the running
statistics of training, which CR-SFP accumulates from masked and unmasked passes alike."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from prunekit.core.model.batches import to_device
from prunekit.core.model.inputs import model_device
from prunekit.methods.sfp.masks import GroupMasks
from prunekit.methods.sfp.norms import BATCH_NORM


def recalibrated(
    model: nn.Module, masks: GroupMasks | None, data: Iterable[Any], batches: int = 20
) -> nn.Module:
    """A copy of ``model`` with the batch-norm statistics of the network masked by ``masks``
    (None: every channel live)."""
    return recalibrate(copy.deepcopy(model), masks, data, batches)


@torch.no_grad()
def recalibrate(
    copy_: nn.Module, masks: GroupMasks | None, data: Iterable[Any], batches: int = 20
) -> nn.Module:
    """Recompute, in place, the batch norms' running statistics of the masked network
    (cumulative average over ``batches`` batches)."""
    norms = [m for m in copy_.modules() if isinstance(m, BATCH_NORM) and m.track_running_stats]
    if not norms:
        return copy_
    saved = {m: m.momentum for m in norms}
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    copy_.train()
    device = model_device(copy_)
    with masks.applied(copy_) if masks is not None else nullcontext():
        for i, batch in enumerate(data):
            if i >= batches:
                break
            copy_(to_device(batch[0] if isinstance(batch, list | tuple) else batch, device))
    for m, momentum in saved.items():
        m.momentum = momentum
        _average_across_processes(m)
    return copy_.eval()


def _average_across_processes(norm: nn.Module) -> None:
    """Under DDP every process saw its own shard: average the statistics so ranks agree."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    world = torch.distributed.get_world_size()
    for name in ("running_mean", "running_var"):
        tensor = getattr(norm, name)
        torch.distributed.all_reduce(tensor)
        tensor /= world
