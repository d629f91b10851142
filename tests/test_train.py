from __future__ import annotations

from pathlib import Path

import pytest
import torch

import prunekit as pk
from prunekit.core.analysis.units import find_units
from prunekit.train import fit
from tests.learned import BOUNDS, fit_separable, separable


def test_fit_lowers_the_loss_and_accuracy_counts() -> None:
    run = fit_separable(0)
    assert len(run.losses) == 16 and run.losses[-1] < run.losses[0]
    assert run.loss_after < run.loss_before
    assert run.accuracy > BOUNDS["fit_accuracy"]  # measured over seeds: docs/testing.md
    assert not run.model.training
    with pytest.raises(pk.ConfigError, match="lr > 0"):
        fit(run.model, separable(0), epochs=1, lr=0)


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
