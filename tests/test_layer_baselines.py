"""Layer-importance baselines and automatic unit discovery."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import prunekit as pk
from prunekit.core.analysis.units import find_units
from tests.hf_tiny import inputs, tiny

X = torch.randn(2, 3, 32, 32)


@pytest.mark.parametrize(
    ("name", "units", "removable"),
    [("resnet18", 8, 5), ("resnet50", 16, 12), ("mobilenet_v2", 19, 10), ("vit_b_16", 12, 12)],
)
def test_units_of_torchvision_models(name: str, units: int, removable: int) -> None:
    model = torchvision.models.get_model(name)
    side = 224 if name == "vit_b_16" else 64
    found = find_units(model, torch.randn(1, 3, side, side))
    assert (len(found), sum(u.removable for u in found)) == (units, removable)


@pytest.mark.parametrize("name", ["llama", "qwen2", "gpt2", "bert", "vit"])
def test_units_of_hf_models_are_their_transformer_layers(name: str) -> None:
    model = tiny(name)
    found = find_units(model, inputs(name))
    assert len(found) == model.config.num_hidden_layers
    assert all(u.removable for u in found)


def test_a_model_without_repeated_blocks_is_refused_with_candidates() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(pk.PrunekitError, match="found no layer units"):
        find_units(model, torch.randn(1, 4))


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 4, (8,))) for _ in range(2)]


@pytest.mark.parametrize("criterion", ["block_influence", "angular", "random", "last"])
def test_each_baseline_meets_a_layer_target(criterion: str) -> None:
    model = pk.zoo.model("resnet18", num_classes=4).eval()
    config = pk.LayerConfig(target=pk.Target(layers=0.5), criterion=criterion)
    result = pk.prune(model, config, example_inputs=X, val_data=_batches())
    assert len(result.details["removed"]) == 4
    assert result.model(X).shape == (2, 4)
    if criterion == "last":
        assert result.details["removed"] == ["layer1.1", "layer2.1", "layer3.1", "layer4.1"]


def test_block_influence_removes_the_block_that_changes_least() -> None:
    model = pk.zoo.model("resnet18", num_classes=4).eval()
    with torch.no_grad():  # layer3.1 adds almost nothing to its input
        model.layer3[1].bn2.weight.mul_(1e-4)
        model.layer3[1].bn2.bias.zero_()
    config = pk.LayerConfig(target=pk.Target(layers=0.875))
    result = pk.prune(model, config, example_inputs=X, val_data=_batches())
    assert result.details["removed"] == ["layer3.1"]


def test_params_target_and_bad_configs() -> None:
    model = pk.zoo.model("resnet18", num_classes=4).eval()
    result = pk.prune(
        model,
        pk.LayerConfig(target=pk.Target(params=0.8), criterion="last"),
        example_inputs=X,
    )
    assert result.after.params <= 0.8 * result.before.params
    with pytest.raises(pk.ConfigError, match="criterion"):
        pk.LayerConfig(target=pk.Target(layers=0.5), criterion="magic")
    with pytest.raises(pk.ConfigError, match="needs data"):
        pk.prune(model, pk.LayerConfig(target=pk.Target(layers=0.5)), example_inputs=X)
