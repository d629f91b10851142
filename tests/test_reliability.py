"""Bad input and odd models: each case ends in a working result or a clear error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import prunekit as pk

X = torch.randn(2, 3, 16, 16)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 3),
    ).eval()


def test_frozen_parameters_stay_frozen() -> None:
    model = _net()
    model[0].weight.requires_grad_(False)
    result = pk.prune(
        model, pk.ChannelConfig(target=pk.Target(params=0.6), round_to=1), example_inputs=X
    )
    assert result.model[0].weight.requires_grad is False
    assert result.model[3].weight.requires_grad is True


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_and_bfloat16_models_are_pruned_in_their_dtype(dtype: torch.dtype) -> None:
    model = _net().to(dtype)
    result = pk.prune(
        model,
        pk.ChannelConfig(target=pk.Target(params=0.6), round_to=1),
        example_inputs=X.to(dtype),
    )
    assert all(p.dtype == dtype for p in result.model.parameters())
    assert result.model(X.to(dtype)).shape == (2, 3)


def test_nan_in_the_data_is_named() -> None:
    bad = [(torch.full((2, 3, 16, 16), float("nan")), torch.tensor([0, 1]))]
    with pytest.raises(pk.InputError, match="NaN"):
        pk.prune(
            _net(),
            pk.ChannelConfig(target=pk.Target(params=0.6), importance="taylor"),
            example_inputs=X,
            train_data=bad,
        )


def test_an_empty_dataloader_is_named() -> None:
    with pytest.raises(pk.InputError, match="no batch"):
        pk.prune(
            _net(),
            pk.ChannelConfig(target=pk.Target(params=0.6), importance="taylor"),
            example_inputs=X,
            train_data=[],
        )
    with pytest.raises(pk.InputError, match="no batch"):
        pk.prune(
            pk.zoo.model("small_resnet", dims=2, blocks=2, width=4),
            pk.LayerConfig(target=pk.Target(layers=0.5)),
            example_inputs=torch.randn(2, 1, 8, 8),
            val_data=[],
        )


def test_a_model_in_train_mode_comes_back_in_train_mode() -> None:
    model = _net().train()
    result = pk.prune(model, pk.ChannelConfig(target=pk.Target(params=0.6)), example_inputs=X)
    assert model.training and result.model.training
    assert all(m.training for m in result.model.modules())
