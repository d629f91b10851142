"""Adaptive layer + channel pruning: gates are exact and fold away, the allocation follows the
gates and the budget, bad input is refused, and training resumes."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from prunekit.methods.adaptive import channel_gates, layer_gates
from prunekit.train import fit


def _net(blocks: int = 4, width: int = 8) -> nn.Module:
    torch.manual_seed(0)
    model = pk.zoo.model("small_resnet", dims=1, blocks=blocks, width=width).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    return model


def _data(n: int = 64) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 40, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=16)


X = torch.randn(2, 1, 40, generator=torch.Generator().manual_seed(1))


def _config(**kwargs: object) -> pk.AdaptiveConfig:
    base = {"target": pk.Target(params=0.7), "sparse_epochs": 0, "finetune_epochs": 0}
    return pk.AdaptiveConfig(**{**base, **kwargs})  # type: ignore[arg-type]


def test_gates_start_at_identity_and_fold_away_exactly() -> None:
    model = _net()
    reference = model(X)
    gates = pk.AdaptiveGates(model, _config(), X)
    assert [g.unit for g in gates.layers] == [f"blocks.{i}" for i in range(4)]
    assert [g.end for g in gates.layers] == [f"blocks.{i}.bn2" for i in range(4)]
    torch.testing.assert_close(model(X), reference)
    with torch.no_grad():
        for i, gate in enumerate(gates.layers):
            gate.gate.fill_(0.3 * i - 0.2)
    gated = model(X)
    assert (gated - reference).abs().max() > 1e-3  # the gates act
    gates.remove()
    torch.testing.assert_close(model(X), gated, rtol=1e-5, atol=1e-5)
    assert not any("adaptive" in name for name in model.state_dict())


def test_a_layer_gate_at_zero_is_removed_exactly() -> None:
    model = _net()
    gates = pk.AdaptiveGates(model, _config(target=pk.Target(params=0.8)), X)
    with torch.no_grad():
        gates.layers[2].gate.zero_()
        for channel in gates.channels:  # every channel gate clearly on
            for part in channel.norms:
                module = dict(model.named_modules())[part.path]
                module.weight.copy_(1.0 + torch.rand_like(module.weight))
    gated = model(X)
    outcome = gates.prune()
    assert outcome.details["layers_removed"] == ["blocks.2"]
    assert outcome.details["channels_removed"] == 0
    torch.testing.assert_close(outcome.model(X), gated, rtol=1e-5, atol=1e-5)
    assert len(outcome.model.blocks) == 3


def test_producer_gates_where_no_batch_norm_exists() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 3)
    )
    x = torch.randn(4, 6)
    reference = model(x)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gates = pk.AdaptiveGates(model, _config(target=pk.Target(params=0.6)), x)
    assert any("channel-only" in str(w.message) for w in caught)
    assert {g.group.root for g in gates.channels} == {"0", "2"}
    assert all(g.gate is not None for g in gates.channels)
    torch.testing.assert_close(model(x), reference)
    with torch.no_grad():
        for channel in gates.channels:
            assert channel.gate is not None
            channel.gate.uniform_(0.5, 1.5)
    gated = model(x)
    gates.remove()
    torch.testing.assert_close(model(x), gated, rtol=1e-5, atol=1e-6)
    assert not any(channel_gates.GATE in name for name in model.state_dict())


def test_channel_only_for_a_plain_network_keeps_every_layer_alive() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(1, 16, 3, padding=1),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Conv1d(16, 16, 3, padding=1),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    ).eval()
    with pytest.warns(UserWarning, match="channel-only"):
        result = pk.prune(model, _config(target=pk.Target(params=0.15), max_fraction=0.95), X)
    assert result.details["layers_removed"] == []
    assert result.after.params <= 0.15 * result.before.params
    convs = [m for m in result.model.modules() if isinstance(m, nn.Conv1d)]
    assert all(m.out_channels >= 1 for m in convs)
    assert result.model(X).shape == (2, 10)


def test_pruned_model_has_stock_layers_and_reloads(tmp_path: Path) -> None:
    model = _net(blocks=4, width=16)
    result = pk.prune(model, _config(target=pk.Target(params=0.5)), X)
    assert result.after.params <= 0.5 * result.before.params
    details = result.details
    assert details["params_removed_by_layers"] + details["params_removed_by_channels"] >= 0.5
    assert details["stages"]["blocks"]["units"] == 4
    kinds = {type(m).__module__.split(".")[0] for m in result.model.modules()}
    assert kinds <= {"torch", "prunekit"}  # the SmallResNet and Block containers
    assert not any(
        isinstance(m, nn.Module) and hasattr(m, layer_gates.GATE) for m in result.model.modules()
    )
    pk.save(result, tmp_path / "run")
    loaded = pk.load(tmp_path / "run")
    torch.testing.assert_close(loaded(X), result.model(X))
    torch.testing.assert_close(model(X), _net(blocks=4, width=16)(X))  # caller's model untouched


def test_ranking_per_cost_and_magnitude_differ_only_in_order() -> None:
    model = _net(blocks=4, width=16)
    a = pk.prune(model, _config(target=pk.Target(params=0.6)), X)
    b = pk.prune(model, _config(target=pk.Target(params=0.6), ranking="per_cost"), X)
    for result in (a, b):
        assert result.after.params <= 0.6 * result.before.params


def test_bad_input_is_refused_with_the_field() -> None:
    with pytest.raises(pk.ConfigError, match="AdaptiveConfig.target"):
        pk.AdaptiveConfig(target=pk.Target(layers=0.5))
    with pytest.raises(pk.ConfigError, match="penalty"):
        pk.AdaptiveConfig(target=pk.Target(params=0.5), penalty=-1)
    with pytest.raises(pk.ConfigError, match="nothing could be pruned"):
        pk.AdaptiveConfig(target=pk.Target(params=0.5), layers=False, channels=False)
    with pytest.raises(pk.ConfigError, match="ranking"):
        pk.AdaptiveConfig(target=pk.Target(params=0.5), ranking="size")
    with pytest.raises(pk.ConfigError, match="train_data"):
        pk.prune(_net(), pk.AdaptiveConfig(target=pk.Target(params=0.5)), X)
    with pytest.raises(pk.ConfigError, match="cannot be met"):
        pk.prune(_net(), _config(target=pk.Target(params=0.01), max_fraction=0.5), X)


def test_own_training_loop_with_the_callbacks() -> None:
    model = _net().train()
    gates = pk.AdaptiveGates(model, _config(target=pk.Target(params=0.6), penalty=1.0), X)
    optimizer = torch.optim.AdamW(gates.param_groups(), lr=1e-3)
    start = gates.penalty().item()
    for epoch in range(3):
        for inputs, labels in _data():
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(inputs), labels) + gates.penalty()
            loss.backward()
            optimizer.step()
        gates.epoch_end(epoch)
    assert gates.penalty().item() < start  # the penalty shrinks the gates
    assert [h["epoch"] for h in gates.history] == [0, 1, 2]
    outcome = gates.prune()
    assert not any("adaptive" in name for name in outcome.model.state_dict())


def test_pk_prune_trains_sparse_then_fine_tunes() -> None:
    model = _net()
    config = _config(target=pk.Target(params=0.6), sparse_epochs=2, finetune_epochs=1)
    result = pk.prune(model, config, X, train_data=_data())
    assert len(result.details["history"]) == 2
    assert len(result.details["finetune_losses"]) == 1
    assert result.after.params <= 0.6 * result.before.params


def test_fit_resumes_from_its_checkpoint_with_the_same_result(tmp_path: Path) -> None:
    start = _net().train()
    data = DataLoader(_data().dataset, batch_size=16, shuffle=True)
    whole = copy.deepcopy(start)
    fit(whole, data, epochs=3, seed=3, checkpoint_dir=tmp_path / "whole")

    def stop(epoch: int) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    broken = copy.deepcopy(start)
    with pytest.raises(KeyboardInterrupt):
        fit(broken, data, epochs=3, seed=3, checkpoint_dir=tmp_path / "run", on_epoch_end=stop)
    resumed = copy.deepcopy(start)
    losses = fit(resumed, data, epochs=3, seed=3, checkpoint_dir=tmp_path / "run")
    assert len(losses) == 3
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
