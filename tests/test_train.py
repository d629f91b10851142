from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from prunekit.core.units import find_units
from prunekit.train import accuracy, fit, mean_loss


def _separable() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 1, 20, generator=g)
    y = (x.mean((1, 2)) > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=32)


def test_fit_lowers_the_loss_and_accuracy_counts() -> None:
    model = pk.zoo.model("small_resnet", dims=1, num_classes=2, blocks=2, width=8)
    data = _separable()
    before = mean_loss(model, data)
    losses = fit(model, data, epochs=8, lr=1e-2)
    assert len(losses) == 8 and losses[-1] < losses[0]
    assert mean_loss(model, data) < before
    assert accuracy(model, data) > 0.8
    assert not model.training
    with pytest.raises(pk.ConfigError, match="lr > 0"):
        fit(model, data, epochs=1, lr=0)


def test_small_resnet_blocks_are_all_removable_and_reload(tmp_path: Path) -> None:
    model = pk.zoo.model("small_resnet", dims=2, blocks=4, width=8).eval()
    x = torch.randn(2, 1, 8, 8)
    units = find_units(model, x)
    assert [u.path for u in units if u.removable] == [f"blocks.{i}" for i in range(4)]
    result = pk.prune(
        model, pk.LayerConfig(target=pk.Target(layers=0.5), criterion="last"), example_inputs=x
    )
    pk.save(result, tmp_path)
    with torch.no_grad():
        assert torch.equal(pk.load(tmp_path)(x), result.model(x))
    with pytest.raises(pk.ConfigError, match="dims must be 1 or 2"):
        pk.zoo.model("small_resnet", dims=3)
