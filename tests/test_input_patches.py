"""Input patches of ConvNets: the stock front equals the gated conv, the informative patches are
found, the model takes only them and survives save/load, bad input is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import prunekit as pk
from prunekit.core.edit.input_patches import patch_front, patch_mask, to_patches
from prunekit.core.edit.plan import Plan, PlanError
from prunekit.methods.features.patch_gate import PatchGate
from tests.learned import BOUNDS, patch_convnet, patch_images, patch_selection


def test_the_front_of_stock_layers_equals_the_gated_conv_on_the_full_image() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 3, 8, 12)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    gate = PatchGate((3, 8, 12), 4)
    with torch.no_grad():
        gate.gate.uniform_(0.5, 2.0)
    keep = [0, 2, 5]
    mask = patch_mask((3, 8, 12), 4, keep)
    handle = gate.attach(conv)
    with torch.no_grad():
        expected = conv(x * mask)
    handle.remove()
    front = nn.Sequential(*patch_front((3, 8, 12), 4, keep, gate.gate.detach()), conv)
    reduced = to_patches(x, 4)[..., keep]
    assert reduced.shape == (5, 3, 16, 3)
    with torch.no_grad():
        assert torch.allclose(front(reduced), expected, atol=1e-6)
    assert np.array_equal(to_patches(x.numpy(), 4), to_patches(x, 4).numpy())


@pytest.mark.parametrize("criterion", ["magnitude", "taylor"])
def test_informative_patches_are_kept_and_the_model_takes_only_them(
    criterion: str, tmp_path: Path
) -> None:
    run = patch_selection(0, criterion)  # the same patches at every seed (docs/testing.md)
    result, x = run.result, run.x
    assert result.details["kept_features"] == [6, 9]
    assert result.details["kept_names"] == ["rows 2-3, cols 4-5", "rows 4-5, cols 2-3"]
    model = result.model
    assert all(type(m).__module__.startswith("torch.nn") for m in model.modules())
    assert model[0][3].out_channels == 6  # hidden channels pruned in the same run
    selector = pk.feature_selector(model)
    assert selector is not None and selector.mask.shape == (1, 8, 8)
    assert int(selector.mask.sum()) == 8
    reduced = selector(x)
    assert reduced.shape == (384, 1, 4, 2)
    assert run.accuracy > BOUNDS["patches_accuracy"]
    pk.save(result, tmp_path)
    loaded = pk.load(tmp_path, base=patch_convnet)
    assert pk.feature_selector(loaded) == selector
    with torch.no_grad():
        assert torch.equal(loaded(reduced), model(reduced))


def test_bad_patch_requests_are_refused() -> None:
    data, x = patch_images(0)
    with pytest.raises(pk.ConfigError, match="patch is 0"):
        pk.FeatureConfig(target=pk.Target(features=0.5), patch=0)
    with pytest.raises(pk.ConfigError, match="must divide"):
        pk.prune(
            patch_convnet(),
            pk.FeatureConfig(target=pk.Target(features=0.5), patch=3),
            example_inputs=x[:2],
            train_data=data,
        )
    mlp = nn.Sequential(nn.Linear(8, 2), nn.Flatten())
    with pytest.raises(pk.ConfigError, match="one nn.Conv2d"):
        pk.prune(
            mlp,
            pk.FeatureConfig(target=pk.Target(features=0.5), patch=2),
            example_inputs=x[:2],
            train_data=data,
        )
    edit = {"op": "inputs", "shape": [1, 8, 8], "axis": "flat", "keep": [0], "names": None}
    plan = {"format": "prunekit.plan", "version": 1, "edits": [{**edit, "patch": 2}]}
    with pytest.raises(PlanError, match="'patch' must be"):
        Plan.from_json(plan)
    plan["edits"] = [{**edit, "axis": "patch", "patch": 3}]
    with pytest.raises(PlanError, match="must divide"):
        Plan.from_json(plan)
