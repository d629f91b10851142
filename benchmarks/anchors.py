"""Torch-Pruning's own pruner as an anchor: global channel pruning to a parameter budget.

Torch-Pruning takes a channel ratio, not a parameter budget, so the ratio is found by
bisection on copies of the model until the pruned copy keeps at most ``keep`` of the params.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from prunekit.core.budget.metrics import count_params

_STEPS = 14


def _gradients(model: nn.Module, data: Iterable[Any], batches: int) -> nn.Module:
    """A copy of ``model`` holding the summed gradients of ``batches`` training batches
    (Torch-Pruning's Taylor importance reads ``.grad``)."""
    copy_ = copy.deepcopy(model).eval()
    copy_.zero_grad()
    for i, (x, y) in enumerate(data):
        if i == batches:
            break
        nn.functional.cross_entropy(copy_(x), y).backward()
    return copy_


def _pruned(
    model: nn.Module,
    example: torch.Tensor,
    importance: str,
    ratio: float,
    head: str,
    round_to: int | None = None,
) -> nn.Module:
    import torch_pruning as tp

    copy_ = copy.deepcopy(model)
    for source, target in zip(model.parameters(), copy_.parameters(), strict=True):
        target.grad = None if source.grad is None else source.grad.clone()  # deepcopy drops .grad
    imp = (
        tp.importance.GroupTaylorImportance()
        if importance == "taylor"
        else tp.importance.GroupMagnitudeImportance(p=2)
    )
    pruner = tp.pruner.BasePruner(
        copy_,
        example,
        importance=imp,
        pruning_ratio=ratio,
        global_pruning=True,
        round_to=round_to,
        ignored_layers=[copy_.get_submodule(head)],
    )
    pruner.step()
    copy_.zero_grad(set_to_none=True)
    return copy_


def torch_pruning(
    model: nn.Module,
    example: torch.Tensor,
    data: Iterable[Any],
    keep: float,
    importance: str,
    head: str,
    batches: int = 8,
    count: Callable[[nn.Module], int] = count_params,
    round_to: int | None = None,
) -> nn.Module:
    """``model`` pruned by Torch-Pruning's ``BasePruner`` (global ranking, ``importance``
    "taylor" or "l2", kept counts multiples of ``round_to``) to at most ``keep`` of what
    ``count`` counts (params by default); the layer at path ``head`` stays whole."""
    source = _gradients(model, data, batches) if importance == "taylor" else model
    budget = keep * count(model)
    low, high = 0.0, 0.999
    best = None
    for _ in range(_STEPS):
        ratio = (low + high) / 2
        try:
            pruned = _pruned(source, example, importance, ratio, head, round_to)
        except Exception:  # an over-pruned graph Torch-Pruning cannot build: prune less
            high = ratio
            continue
        if count(pruned) <= budget:
            best, high = pruned, ratio
        else:
            low = ratio
    if best is None:
        raise RuntimeError(f"Torch-Pruning could not reach {keep:.3f} of the params")
    return best.train()
