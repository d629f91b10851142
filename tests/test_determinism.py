"""The same seed gives the same plan, the same metrics and the same weights, for every method
on CPU; and an interrupt (Ctrl-C) inside ``pk.prune`` leaves the caller's model untouched."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

import prunekit as pk
from prunekit.methods.config_base import MethodConfig
from prunekit.methods.registry import OPTIONAL_ARGUMENTS, entries, entry_for

T = pk.Target


def _data(dims: int, classes: int = 4, batches: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    shape = (16, 1, 12) if dims == 1 else (16, 1, 8, 8)
    return [
        (torch.randn(*shape, generator=g), torch.randint(0, classes, (16,), generator=g))
        for _ in range(batches)
    ]


def _resnet(dims: int = 1) -> nn.Module:
    torch.manual_seed(0)
    return pk.zoo.model("small_resnet", dims=dims, blocks=4, width=8, num_classes=4)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))


CASES: dict[str, tuple[Any, Any, int]] = {  # method -> (model factory, config, input dims)
    "channel": (_resnet, pk.ChannelConfig(target=T(params=0.6), importance="taylor"), 1),
    "basis": (_resnet, pk.BasisConfig(target=T(params=0.6), epochs=1), 1),
    "double": (
        _resnet,
        pk.DoubleConfig(
            channel=pk.ChannelConfig(target=T(params=0.8), importance="taylor"),
            basis=pk.BasisConfig(target=T(params=0.6), epochs=1),
        ),
        1,
    ),
    "adaptive": (
        _resnet,
        pk.AdaptiveConfig(target=T(params=0.6), sparse_epochs=1, finetune_epochs=1),
        1,
    ),
    "sglp": (_resnet, pk.SGLPConfig(target=T(layers=0.5)), 1),
    "layers": (_resnet, pk.LayerConfig(target=T(layers=0.5)), 1),
    "sfp": (_resnet, pk.SFPConfig(rate=0.5, epochs=1), 1),
    "crsfp": (_resnet, pk.CRSFPConfig(rate=0.5, epochs=1), 1),
    "features": (_mlp, pk.FeatureConfig(target=T(features=0.5), epochs=2), 0),
}


def _prune(method: str, global_seed: int) -> pk.PruneResult:
    factory, config, dims = CASES[method]
    data = _data(dims) if dims else [(x.flatten(1), y) for x, y in _data(1)]
    model = factory()
    torch.manual_seed(global_seed)  # only the config's seed may matter
    given = entry_for(config).taken(train_data=data, val_data=data)
    return pk.prune(model, config, example_inputs=data[0][0][:2], **given)


def test_every_registered_method_has_a_case() -> None:
    assert set(CASES) == {entry.name for entry in entries()}


@pytest.mark.parametrize("method", sorted(CASES))
def test_every_config_round_trips_through_json(method: str) -> None:
    _, config, _ = CASES[method]
    assert isinstance(config, MethodConfig)
    text = json.dumps(config.to_dict())
    assert type(config).from_dict(json.loads(text)) == config


def test_a_config_field_without_a_plain_form_is_named() -> None:
    config = pk.CRSFPConfig(rate=0.5, augment=lambda x: x)
    with pytest.raises(pk.ConfigError, match=r"CRSFPConfig\.augment is .*no plain"):
        config.to_dict()
    with pytest.raises(pk.ConfigError, match=r"ChannelConfig\.ratio is not a field"):
        pk.ChannelConfig.from_dict({"target": {"params": 0.5}, "ratio": 0.5})
    with pytest.raises(pk.ConfigError, match=r"SGLPConfig\.cka_batches is 0; expected an integer"):
        pk.SGLPConfig(target=T(layers=0.5), cka_batches=0)


@pytest.mark.parametrize("method", sorted(CASES))
def test_an_argument_the_method_does_not_take_is_refused_not_dropped(method: str) -> None:
    factory, config, _ = CASES[method]
    entry = entry_for(config)
    assert "train_data" in entry.takes  # every method can use data (to train or to score)
    for name in set(OPTIONAL_ARGUMENTS) - entry.takes:
        with pytest.raises(pk.ConfigError, match=rf"does not take {name}=.*fix: drop {name}="):
            pk.prune(factory(), config, example_inputs=torch.randn(2, 12), **{name: [object()]})


@pytest.mark.parametrize("method", sorted(CASES))
def test_the_same_seed_gives_the_same_plan_metrics_and_weights(method: str) -> None:
    first, second = _prune(method, 1), _prune(method, 2)
    assert first.plan.to_json() == second.plan.to_json()
    assert first.after == second.after
    a, b = first.model.state_dict(), second.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), method


class _Interrupting:
    """A training split whose second batch is a Ctrl-C."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches, self.served = batches, 0

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Any]:
        self.served += 1
        yield self.batches[0]
        raise KeyboardInterrupt


@pytest.mark.parametrize("method", ["basis", "adaptive", "sfp", "channel"])
def test_ctrl_c_inside_prune_leaves_the_callers_model_untouched(method: str) -> None:
    factory, config, dims = CASES[method]
    model = factory().train()
    before = copy.deepcopy(model.state_dict())
    data = _data(dims)
    interrupting = _Interrupting(data)
    with pytest.raises(KeyboardInterrupt):
        pk.prune(model, config, example_inputs=data[0][0][:2], train_data=interrupting)
    assert interrupting.served == 1  # the interrupt came while pruning read training batches
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert all(m.training for m in model.modules())
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
