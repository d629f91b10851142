"""Layer-importance baselines: score units, remove the least important for the target."""

from __future__ import annotations

import random
from collections.abc import Iterable
from functools import cache
from typing import Any

from torch import nn

from prunekit.core.analysis.units import find_units, keeping_one_per_list
from prunekit.core.model.batches import scoring_data
from prunekit.core.model.inputs import ExampleInputs
from prunekit.methods.layers.config import LayerConfig
from prunekit.methods.layers.scores import angular_runs, block_influence
from prunekit.methods.outcome import MethodOutcome, choose_layers, finish_layer_removal


def prune_layers(
    model: nn.Module,
    config: LayerConfig,
    example_inputs: ExampleInputs,
    train_data: Iterable[Any] | None = None,
    val_data: Iterable[Any] | None = None,
) -> MethodOutcome:
    units = find_units(model, example_inputs, config.units)
    removable = [u.path for u in units if u.removable]
    scores: dict[str, float] = {}
    if config.criterion == "block_influence":
        data = scoring_data(train_data, val_data, "LayerConfig(criterion='block_influence')")
        scores = block_influence(model, units, data, config.batches)
        ranking = sorted(removable, key=lambda p: scores[p])
    elif config.criterion == "random":
        ranking = removable[:]
        random.Random(config.seed).shuffle(ranking)
    elif config.criterion == "last":
        ranking = removable[::-1]
    else:
        ranking = []
        data = scoring_data(train_data, val_data, "LayerConfig(criterion='angular')")

    @cache
    def angular(count: int) -> tuple[str, ...]:
        runs = angular_runs(model, units, data, config.batches, count)
        if not runs:  # no run of that many consecutive removable units: the closest singles
            singles = sorted(angular_runs(model, units, data, config.batches, 1))
            return tuple(run[0] for _, run in singles[:count])
        return tuple(min(runs)[1])

    ranking = keeping_one_per_list(units, ranking)

    def select(count: int) -> list[str]:
        if count == 0:
            return []
        if config.criterion == "angular":
            return list(angular(count))
        return ranking[:count]

    chosen = choose_layers(model, units, example_inputs, config, select)
    return finish_layer_removal(model, units, chosen, {"scores": scores})
