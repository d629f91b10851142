"""SGLP: CKA between unit outputs -> Fisher segmentation -> GradNorm selection per segment."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

import torch
from torch import nn

from prunekit.core.batches import LossFn, take
from prunekit.core.inputs import ExampleInputs
from prunekit.core.representations import Seen, each_batch
from prunekit.core.units import Unit, find_units
from prunekit.errors import ConfigError
from prunekit.methods.layers.budget import choose
from prunekit.methods.layers.method import LayerOutcome, finish, scoring_data
from prunekit.methods.sglp.cka import MinibatchCKA
from prunekit.methods.sglp.config import SGLPConfig
from prunekit.methods.sglp.gradnorm import best_removal, grad_norm, pruned_loss
from prunekit.methods.sglp.segment import choose_count, fisher_losses, segments


def cka_matrix(
    model: nn.Module, units: list[Unit], data: Iterable[Any], batches: int, estimator: str
) -> torch.Tensor:
    paths = [u.path for u in units]
    accumulator = MinibatchCKA(len(paths), estimator)

    def add(seen: Seen) -> None:
        accumulator.update([seen[p][1] for p in paths])

    each_batch(model, paths, data, batches, add)
    return accumulator.matrix()


def allocate(count: int, sizes: list[int]) -> list[int]:
    """Split ``count`` removals over segments in proportion to their removable units (largest
    remainder), never more than a segment has."""
    total = sum(sizes)
    if total == 0:
        return [0] * len(sizes)
    exact = [count * s / total for s in sizes]
    share = [int(e) for e in exact]
    order = sorted(range(len(sizes)), key=lambda i: exact[i] - share[i], reverse=True)
    for i in order:
        if sum(share) >= count:
            break
        if share[i] < sizes[i]:
            share[i] += 1
    return share


def prune_sglp(
    model: nn.Module,
    config: SGLPConfig,
    example_inputs: ExampleInputs,
    train_data: Iterable[Any] | None = None,
    val_data: Iterable[Any] | None = None,
    loss_fn: LossFn | None = None,
    **_: Any,
) -> LayerOutcome:
    units = find_units(model, example_inputs, config.units)
    if train_data is None:
        raise ConfigError("SGLPConfig needs train_data (batches for GradNorm) in pk.prune")
    data = scoring_data(train_data, val_data, "SGLPConfig")
    matrix = cka_matrix(model, units, data, config.cka_batches, config.estimator)
    points = matrix.sum(0)[:, None] if config.sequence == "colsum" else matrix
    losses, _ = fisher_losses(points, config.max_segments)
    count = config.segments or choose_count(losses, config.drop_threshold)
    bounds = segments(points, count)
    members = [[u for u in units[a : b + 1] if u.removable] for a, b in bounds]
    batches = list(take(train_data, config.gradnorm_batches, "train_data"))

    def score(removed: list[str]) -> float:  # larger is better
        if config.selection == "loss":
            return -pruned_loss(model, units, removed, batches, loss_fn)
        value = grad_norm(model, units, removed, batches, loss_fn, config.seed)
        return value if config.selection == "gradnorm_max" else -value

    @cache
    def in_segment(segment: int, remove: int) -> tuple[tuple[str, ...], float]:
        paths = [u.path for u in members[segment]]
        chosen, value = best_removal(paths, remove, score, config.exhaustive_limit)
        return tuple(chosen), value

    def select(total: int) -> list[str]:
        shares = allocate(total, [len(m) for m in members])
        return [p for s, r in enumerate(shares) for p in in_segment(s, r)[0]]

    choice = choose(model, units, example_inputs, config.target, select)
    details = {
        "cka": matrix.tolist(),
        "segment_losses": losses.tolist(),
        "segments": [[units[i].path for i in range(a, b + 1)] for a, b in bounds],
        "kept_fractions": choice.fractions,
    }
    return finish(model, units, choice.removed, details)
