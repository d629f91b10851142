"""Induced feature selection: schedules, selector, removal, save/load, bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import prunekit as pk
from prunekit.methods.features.schedule import SCHEDULES, sparsity
from tests.learned import column_mlp, column_selection, informative_columns


@pytest.mark.parametrize("kind", SCHEDULES)
def test_schedules_start_at_zero_end_at_final_and_never_decrease(kind: str) -> None:
    values = [sparsity(i / 100, 0.75, kind) for i in range(101)]
    assert values[0] == pytest.approx(0.0, abs=0.01) and values[-1] == pytest.approx(0.75)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))


def test_the_informative_features_are_kept_and_the_model_takes_them(tmp_path: Path) -> None:
    result, _, x = column_selection(0)  # the same columns at every seed (docs/testing.md)
    assert result.details["kept_features"] == [3, 7]
    assert set(result.details["ranked"]) == {"f3", "f7"}
    model = result.model
    assert model[0].in_features == 2 and model[0].out_features == 12
    selector = pk.feature_selector(model)
    assert selector is not None and selector.mask.tolist() == [i in (3, 7) for i in range(12)]
    assert torch.equal(selector(x), x[:, [3, 7]])
    assert np.array_equal(selector(x.numpy()), x.numpy()[:, [3, 7]])
    assert result.after.params < result.before.params
    pk.save(result, tmp_path)
    loaded = pk.load(tmp_path, base=column_mlp)
    assert pk.feature_selector(loaded) == selector
    with torch.no_grad():
        assert torch.equal(loaded(selector(x)), model(selector(x)))
    with pytest.raises(pk.InputError, match="full inputs of shape"):
        selector(x[:, :5])
    for pruned in (model, loaded):  # reliability row 28: the model itself names the fix
        with pytest.raises(pk.InputError, match=r"got full inputs .*pk.feature_selector"):
            pruned(x)


def test_one_shot_schedule_keeps_the_requested_share() -> None:
    data, x = informative_columns(0)
    config = pk.FeatureConfig(target=pk.Target(features=0.5), epochs=3, schedule="one_shot")
    result = pk.prune(column_mlp(), config, example_inputs=x[:2], train_data=data)
    assert len(result.details["kept_features"]) == 6
    selector = pk.feature_selector(result.model)
    assert selector is not None and result.model(selector(x)).shape == (256, 2)


def test_bad_feature_requests_are_refused() -> None:
    data, x = informative_columns(0)
    with pytest.raises(pk.ConfigError, match="features="):
        pk.FeatureConfig(target=pk.Target(params=0.5))
    with pytest.raises(pk.ConfigError, match="feature_names has 3"):
        pk.prune(
            column_mlp(),
            pk.FeatureConfig(target=pk.Target(features=0.5), feature_names=("a", "b", "c")),
            example_inputs=x[:2],
            train_data=data,
        )

    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(12, 2)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.tanh(t))

    with pytest.raises(pk.ConfigError, match="first Linear or Conv"):
        pk.prune(
            Scaled(),
            pk.FeatureConfig(target=pk.Target(features=0.5)),
            example_inputs=x[:2],
            train_data=data,
        )
    with pytest.raises(pk.ConfigError, match="train_data"):
        pk.prune(
            column_mlp(), pk.FeatureConfig(target=pk.Target(features=0.5)), example_inputs=x[:2]
        )
