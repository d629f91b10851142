"""Induced feature selection: schedules, selector, removal, save/load, bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from prunekit.methods.features.schedule import SCHEDULES, sparsity


@pytest.mark.parametrize("kind", SCHEDULES)
def test_schedules_start_at_zero_end_at_final_and_never_decrease(kind: str) -> None:
    values = [sparsity(i / 100, 0.75, kind) for i in range(101)]
    assert values[0] == pytest.approx(0.0, abs=0.01) and values[-1] == pytest.approx(0.75)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))


def _informative() -> tuple[DataLoader, torch.Tensor]:
    """Labels depend on features 3 and 7 only; the other 10 are noise."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 12, generator=g)
    y = ((x[:, 3] + x[:, 7]) > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False), x


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))


def test_the_informative_features_are_kept_and_the_model_takes_them(tmp_path: Path) -> None:
    data, x = _informative()
    names = tuple(f"f{i}" for i in range(12))
    config = pk.FeatureConfig(
        target=pk.Target(features=2 / 12), epochs=20, lr=1e-2, feature_names=names, hidden=0.25
    )
    result = pk.prune(_mlp(), config, example_inputs=x[:2], train_data=data)
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
    loaded = pk.load(tmp_path, base=_mlp)
    assert pk.feature_selector(loaded) == selector
    with torch.no_grad():
        assert torch.equal(loaded(selector(x)), model(selector(x)))
    with pytest.raises(pk.InputError, match="full inputs of shape"):
        selector(x[:, :5])


def test_one_shot_schedule_keeps_the_requested_share() -> None:
    data, x = _informative()
    config = pk.FeatureConfig(target=pk.Target(features=0.5), epochs=3, schedule="one_shot")
    result = pk.prune(_mlp(), config, example_inputs=x[:2], train_data=data)
    assert len(result.details["kept_features"]) == 6
    selector = pk.feature_selector(result.model)
    assert selector is not None and result.model(selector(x)).shape == (256, 2)


def test_bad_feature_requests_are_refused() -> None:
    data, x = _informative()
    with pytest.raises(pk.ConfigError, match="features="):
        pk.FeatureConfig(target=pk.Target(params=0.5))
    with pytest.raises(pk.ConfigError, match="feature_names has 3"):
        pk.prune(
            _mlp(),
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
        pk.prune(_mlp(), pk.FeatureConfig(target=pk.Target(features=0.5)), example_inputs=x[:2])
