"""Input patches of ConvNets: the stock front equals the gated conv, the informative patches are
found, the model takes only them and survives save/load, bad input is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from prunekit.core.input_patches import PatchGate, patch_front, patch_mask, to_patches
from prunekit.core.plan import Plan, PlanError


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


def _images() -> tuple[DataLoader, torch.Tensor]:
    """8x8 images, 16 patches of 2x2: the label is the sign of patch 6's sum minus patch 9's;
    the other patches are noise, and patch 0 is always blank."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(384, 1, 8, 8, generator=g)
    x[:, :, :2, :2] = 0
    y = (x[:, 0, 2:4, 4:6].sum((1, 2)) > x[:, 0, 4:6, 2:4].sum((1, 2))).long()
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False), x


def _convnet() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 2)
    )


@pytest.mark.parametrize("criterion", ["magnitude", "taylor"])
def test_informative_patches_are_kept_and_the_model_takes_only_them(
    criterion: str, tmp_path: Path
) -> None:
    data, x = _images()
    config = pk.FeatureConfig(
        target=pk.Target(features=2 / 16),
        patch=2,
        hidden=0.25,
        epochs=12,
        lr=1e-2,
        criterion=criterion,
    )
    result = pk.prune(_convnet(), config, example_inputs=x[:2], train_data=data)
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
    with torch.no_grad():
        accuracy = (model(reduced).argmax(1) == torch.cat([b[1] for b in data])).float().mean()
    assert accuracy > 0.8
    pk.save(result, tmp_path)
    loaded = pk.load(tmp_path, base=_convnet)
    assert pk.feature_selector(loaded) == selector
    with torch.no_grad():
        assert torch.equal(loaded(reduced), model(reduced))


def test_bad_patch_requests_are_refused() -> None:
    data, x = _images()
    with pytest.raises(pk.ConfigError, match="patch is 0"):
        pk.FeatureConfig(target=pk.Target(features=0.5), patch=0)
    with pytest.raises(pk.ConfigError, match="must divide"):
        pk.prune(
            _convnet(),
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
