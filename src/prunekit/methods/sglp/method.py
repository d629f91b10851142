"""SGLP: CKA between unit outputs -> Fisher segmentation -> GradNorm selection per segment."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.units import Unit, find_units
from prunekit.core.model.batches import LossFn, scoring_data, take
from prunekit.core.model.inputs import ExampleInputs
from prunekit.core.scoring.representations import Seen, each_batch
from prunekit.errors import ConfigError
from prunekit.methods.outcome import MethodOutcome, choose_layers, finish_layer_removal
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


def greedy_order(
    members: list[list[str]], total: int, score: Callable[[list[str]], float]
) -> list[str]:
    """Removals in order: each step removes, from any segment, the unit whose removal (with the
    ones before) scores best, keeping at least one unit per segment while that is possible."""
    removed: list[str] = []
    for _ in range(total):
        options = []
        for paths in members:
            left = [p for p in paths if p not in removed]
            options += [(p, len(left) > 1) for p in left]
        if not options:
            break
        spare = [p for p, keeps_one in options if keeps_one] or [p for p, _ in options]
        removed.append(max(spare, key=lambda p: score([*removed, p])))
    return removed


def prune_sglp(
    model: nn.Module,
    config: SGLPConfig,
    example_inputs: ExampleInputs,
    train_data: Iterable[Any] | None = None,
    val_data: Iterable[Any] | None = None,
    loss_fn: LossFn | None = None,
) -> MethodOutcome:
    units = find_units(model, example_inputs, config.units)
    if train_data is None:
        raise ConfigError("SGLPConfig needs train_data (batches for GradNorm) in pk.prune")
    data = scoring_data(train_data, val_data, "SGLPConfig")
    matrix = cka_matrix(model, units, data, config.cka_batches, config.estimator)
    points = matrix.sum(0)[:, None] if config.sequence == "colsum" else matrix
    losses, _ = fisher_losses(points, config.max_segments)
    count = config.segments or choose_count(losses, config.drop_threshold)
    bounds = segments(points, count)
    members = [[u.path for u in units[a : b + 1] if u.removable] for a, b in bounds]
    batches = list(take(train_data, config.score_batches, "train_data"))

    def score(removed: list[str]) -> float:  # larger is better
        if config.selection == "loss":
            return -pruned_loss(model, units, removed, batches, loss_fn)
        value = grad_norm(model, units, removed, batches, loss_fn, config.seed)
        return value if config.selection == "gradnorm_max" else -value

    @cache
    def order(total: int) -> tuple[str, ...]:
        return tuple(greedy_order(members, total, score))

    def select(total: int) -> list[str]:
        """The greedy removals, then each segment's share re-chosen by subset search (exhaustive
        up to ``exhaustive_limit`` subsets) with the other segments' removals fixed."""
        removed = list(order(total))
        for paths in members:
            inside = [p for p in removed if p in paths]
            others = [p for p in removed if p not in paths]
            if not inside or math.comb(len(paths), len(inside)) > config.exhaustive_limit:
                continue
            best, _ = best_removal(
                paths,
                len(inside),
                lambda r, fixed=others: score([*fixed, *r]),
                config.exhaustive_limit,
            )
            removed = [*others, *best]
        return removed

    chosen = choose_layers(model, units, example_inputs, config, select)
    details = {
        "cka": matrix.tolist(),
        "segment_losses": losses.tolist(),
        "segments": [[units[i].path for i in range(a, b + 1)] for a, b in bounds],
    }
    return finish_layer_removal(model, units, chosen, details)
