from __future__ import annotations

import re

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from tests.nets import MLP, ConcatNet, ResidualNet


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10)


X64 = torch.randn(2, 3, 64, 64)


@pytest.mark.parametrize("field", ["params", "macs"])
@pytest.mark.parametrize("importance", ["l1", "l2", "bn", "random"])
def test_target_is_met_within_two_percent(resnet18: nn.Module, field: str, importance: str) -> None:
    target = pk.Target(**{field: 0.5})
    result = pk.prune(
        resnet18, pk.ChannelConfig(target=target, importance=importance), example_inputs=X64
    )
    kept = getattr(result.after.ratio(result.before), field)
    assert 0.49 <= kept <= 0.5
    assert result.after.params < result.before.params
    assert result.model(X64).shape == (2, 10)


@pytest.mark.parametrize("round_to", [1, 8])
def test_local_scope_meets_the_target_too(resnet18: nn.Module, round_to: int) -> None:
    config = pk.ChannelConfig(target=pk.Target(macs=0.5), scope="local", round_to=round_to)
    result = pk.prune(resnet18, config, example_inputs=X64)
    assert 0.49 <= result.after.ratio(result.before).macs <= 0.5


def test_callers_model_is_untouched_and_modes_restored(resnet18: nn.Module) -> None:
    resnet18.train()
    resnet18.layer1.eval()
    state = {k: v.clone() for k, v in resnet18.state_dict().items()}
    result = pk.prune(resnet18, pk.ChannelConfig(target=pk.Target(params=0.7)), example_inputs=X64)
    assert all(torch.equal(v, state[k]) for k, v in resnet18.state_dict().items())
    assert resnet18.training and not resnet18.layer1.training
    assert result.model.training and not result.model.layer1.training
    assert result.model is not resnet18


def test_inplace_prunes_the_callers_model() -> None:
    model = MLP()
    result = pk.prune(
        model,
        pk.ChannelConfig(target=pk.Target(params=0.6)),
        example_inputs=torch.randn(3, 20),
        inplace=True,
    )
    assert result.model is model and model.net[0].out_features < 32


def test_round_to_and_ignore(resnet18: nn.Module) -> None:
    config = pk.ChannelConfig(target=pk.Target(params=0.85), round_to=8, ignore=("layer4.*",))
    result = pk.prune(resnet18, config, example_inputs=X64)
    convs = {n: m for n, m in result.model.named_modules() if isinstance(m, nn.Conv2d)}
    assert all(m.out_channels % 8 == 0 for m in convs.values())
    assert convs["layer4.0.conv1"].out_channels == 512  # ignored group left whole
    assert any("layer4" in s["reason"] for s in result.details["skipped_groups"])


def test_couplings_stay_consistent_and_equivalent() -> None:
    torch.manual_seed(0)
    for net in (ConcatNet(), ResidualNet()):
        x = torch.randn(2, 3, 8, 8)
        result = pk.prune(
            net,
            pk.ChannelConfig(target=pk.Target(params=0.5), importance="random"),
            example_inputs=x,
        )
        out = result.model(x)
        out.sum().backward()  # forward and backward run on the smaller model
        assert result.after.params <= 0.5 * result.before.params
    grouped = result.model.grouped  # type: ignore[union-attr]
    assert grouped.groups == 4 and grouped.in_channels % 4 == 0


def test_taylor_needs_data_and_uses_it(resnet18: nn.Module) -> None:
    with pytest.raises(pk.ConfigError, match="needs train_data"):
        pk.prune(
            resnet18,
            pk.ChannelConfig(target=pk.Target(params=0.5), importance="taylor"),
            example_inputs=X64,
        )
    data = DataLoader(
        TensorDataset(torch.randn(8, 3, 64, 64), torch.randint(0, 10, (8,))), batch_size=4
    )
    result = pk.prune(
        resnet18,
        pk.ChannelConfig(target=pk.Target(params=0.5), importance="taylor"),
        example_inputs=X64,
        train_data=data,
    )
    assert result.after.params <= 0.5 * result.before.params
    assert all(p.grad is None for p in result.model.parameters())
    empty = DataLoader(TensorDataset(torch.zeros(0, 3, 64, 64), torch.zeros(0).long()))
    with pytest.raises(pk.InputError, match="no batch"):
        pk.prune(
            resnet18,
            pk.ChannelConfig(target=pk.Target(params=0.5), importance="taylor"),
            example_inputs=X64,
            train_data=empty,
        )


def test_same_seed_same_plan(resnet18: nn.Module) -> None:
    config = pk.ChannelConfig(target=pk.Target(params=0.5), importance="random", seed=3)
    one = pk.prune(resnet18, config, example_inputs=X64)
    two = pk.prune(resnet18, config, example_inputs=X64)
    assert one.plan.to_json() == two.plan.to_json()
    assert one.after.params == two.after.params and one.after.macs == two.after.macs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"params": 0}, "must be in \\(0, 1\\]"),
        ({"params": 1.5}, "must be in \\(0, 1\\]"),
        ({}, "needs at least one"),
        ({"params": "half"}, "expected a fraction"),
    ],
)
def test_bad_targets(kwargs: dict, message: str) -> None:
    with pytest.raises(pk.ConfigError, match=message):
        pk.Target(**kwargs)


def test_bad_configs_and_inputs(resnet18: nn.Module) -> None:
    with pytest.raises(pk.ConfigError, match="importance is 'l3'"):
        pk.ChannelConfig(target=pk.Target(params=0.5), importance="l3")
    with pytest.raises(TypeError, match="unexpected keyword"):
        pk.ChannelConfig(target=pk.Target(params=0.5), ratio=0.5)  # type: ignore[call-arg]
    with pytest.raises(pk.ConfigError, match="layers and features belong"):
        pk.ChannelConfig(target=pk.Target(layers=0.5))
    with pytest.raises(pk.InputError, match="needs example_inputs"):
        pk.prune(resnet18, pk.ChannelConfig(target=pk.Target(params=0.5)))
    with pytest.raises(pk.InputError, match=r"\(2, 1, 64, 64\)"):
        pk.prune(
            resnet18,
            pk.ChannelConfig(target=pk.Target(params=0.5)),
            example_inputs=torch.randn(2, 1, 64, 64),
        )
    with pytest.raises(pk.ConfigError, match=r"expected one of .*pk\.ChannelConfig"):
        pk.prune(resnet18, {"target": 0.5}, example_inputs=X64)


def test_unreachable_target_names_the_best_reachable(resnet18: nn.Module) -> None:
    config = pk.ChannelConfig(target=pk.Target(params=0.01), max_fraction=0.5)
    with pytest.raises(pk.ConfigError, match=r"cannot be reached.*keeps params=0\.\d+"):
        pk.prune(resnet18, config, example_inputs=X64)


def test_an_unreachable_target_states_the_true_limit_and_names_what_is_left_whole(
    resnet18: nn.Module,
) -> None:
    """Global ranking drops picks beyond a group's cap; the limit it reports is still the true
    one (every group at its cap, as local ranking reaches), and the parts no group prunes are
    named with their size and reason."""
    limits = {}
    for scope in ("global", "local"):
        config = pk.ChannelConfig(
            target=pk.Target(params=0.01), scope=scope, ignore=["layer4.*"], round_to=1
        )
        with pytest.raises(pk.ConfigError, match="Largest parts left whole") as info:
            pk.prune(resnet18, config, example_inputs=X64)
        message = str(info.value)
        limits[scope] = float(re.search(r"keeps params=(\d\.\d+)", message).group(1))
        assert re.search(r"layer4\.\d\.conv\d \(Conv2d, [\d,]+ params, [\d.]+%: ignored", message)
    assert limits["global"] == limits["local"]


def test_target_of_one_changes_nothing(resnet18: nn.Module) -> None:
    result = pk.prune(resnet18, pk.ChannelConfig(target=pk.Target(params=1.0)), example_inputs=X64)
    assert result.after.params == result.before.params and len(result.plan) == 0


def test_no_layer_is_ever_emptied() -> None:
    result = pk.prune(
        MLP(hidden=4),
        pk.ChannelConfig(target=pk.Target(params=0.3), max_fraction=0.99),
        example_inputs=torch.randn(2, 20),
    )
    assert all(m.out_features >= 1 for m in result.model.modules() if isinstance(m, nn.Linear))


def test_wrong_coupling_is_refused_not_returned() -> None:
    class CatFlatten(nn.Module):  # torch-pruning maps cat -> flatten indices wrongly
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 2, 1)
            self.fc, self.out = nn.Linear(24, 8), nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.fc(torch.cat([self.a(x), self.b(x)], 1).flatten(1)))

    result = pk.prune(
        CatFlatten(),
        pk.ChannelConfig(target=pk.Target(params=0.8)),
        example_inputs=torch.randn(2, 3, 2, 2),
    )
    skipped = {s["root"] for s in result.details["skipped_groups"]}
    assert "a" in skipped  # its coupling was not trusted
    x = torch.randn(2, 3, 2, 2)
    assert result.model(x).shape == (2, 2)
