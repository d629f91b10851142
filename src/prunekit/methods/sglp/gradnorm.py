"""GradNorm of a network with some units removed, and the per-segment subset search."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.units import Unit
from prunekit.core.budget.layer_count import apply
from prunekit.core.model.batches import LossFn, batch_loss


def grad_norm(
    model: nn.Module,
    units: Sequence[Unit],
    removed: Sequence[str],
    batches: Sequence[Any],
    loss_fn: LossFn | None,
    seed: int,
) -> float:
    """sqrt(sum of squared gradients of the loss) of the network without ``removed`` (the
    units are deleted, pretrained weights elsewhere), averaged over ``batches``, train mode."""
    pruned = apply(copy.deepcopy(model), units, removed).train()
    total = 0.0
    for batch in batches:
        torch.manual_seed(seed)
        pruned.zero_grad(set_to_none=True)
        with torch.enable_grad():
            batch_loss(pruned, batch, loss_fn).backward()
        squares = sum(
            float(p.grad.double().pow(2).sum()) for p in pruned.parameters() if p.grad is not None
        )
        total += math.sqrt(squares)
    return total / len(batches)


@torch.no_grad()
def pruned_loss(
    model: nn.Module,
    units: Sequence[Unit],
    removed: Sequence[str],
    batches: Sequence[Any],
    loss_fn: LossFn | None,
) -> float:
    """The mean training loss of the network without ``removed``, in eval mode."""
    pruned = apply(copy.deepcopy(model), units, removed).eval()
    return sum(float(batch_loss(pruned, b, loss_fn)) for b in batches) / len(batches)


def best_removal(
    candidates: Sequence[str], count: int, score: Callable[[list[str]], float], limit: int
) -> tuple[list[str], float]:
    """The ``count`` candidates whose removal leaves the largest score: every subset when there
    are at most ``limit``, otherwise greedily one removal at a time. (Negate a score to
    minimise it.)"""
    if count <= 0:
        return [], math.nan
    if math.comb(len(candidates), count) <= limit:
        scored = [(score(list(s)), list(s)) for s in itertools.combinations(candidates, count)]
        value, chosen = max(scored, key=lambda item: item[0])
        return chosen, value
    chosen: list[str] = []
    value = math.nan
    for _ in range(count):
        options = [c for c in candidates if c not in chosen]
        value, pick = max(((score([*chosen, c]), c) for c in options), key=lambda i: i[0])
        chosen.append(pick)
    return chosen, value
