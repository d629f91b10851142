"""Basis scaling and double pruning: decomposition, export to stock layers, budget, reload."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from prunekit.latency.table import LatencyTable, LayerShape
from prunekit.methods.basis.budget import LayerCost, select
from prunekit.methods.basis.forms import Forms
from prunekit.methods.basis.layers import BasisScaled, decompose
from tests.learned import BOUNDS, lite0_double_pruning


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.Conv2d(8, 16, 3, stride=2, padding=1, dilation=1), (2, 8, 9, 9)),
        (nn.Conv2d(6, 4, 3, padding=2, dilation=2, bias=False), (2, 6, 7, 7)),
        (nn.Conv1d(4, 12, 5, padding=2), (2, 4, 20)),
        (nn.Linear(10, 6), (3, 10)),
    ],
)
def test_full_rank_decomposition_reproduces_the_layer(layer: nn.Module, shape: tuple) -> None:
    torch.manual_seed(0)
    x = torch.randn(shape)
    decomposed = decompose(layer)
    with torch.no_grad():
        reference, out = layer(x), decomposed(x)
        assert float((out - reference).abs().max() / reference.abs().max()) < 1e-4
        exported = decomposed.export()
        assert float((exported(x) - reference).abs().max() / reference.abs().max()) < 1e-4
    basis = decomposed.basis.weight.reshape(decomposed.rank, -1).double()
    assert torch.allclose(
        basis @ basis.T, torch.eye(decomposed.rank, dtype=torch.float64), atol=1e-5
    )


def test_kept_bases_export_to_two_stock_layers_or_merge_back() -> None:
    torch.manual_seed(0)
    layer = nn.Conv2d(16, 16, 3, padding=1)
    x = torch.randn(2, 16, 6, 6)
    low = decompose(layer)
    low.keep([0, 1, 2])
    with torch.no_grad():
        low.scale.mul_(torch.linspace(0.5, 1.5, 3))
    pair = low.export()
    assert [type(m) for m in pair] == [nn.Conv2d, nn.Conv2d]
    assert pair[0].out_channels == 3 and pair[1].kernel_size == (1, 1)
    high = decompose(layer)
    high.keep(list(range(15)))  # 15 * (144 + 16) >= 16 * 144: does not pay
    merged = high.export()
    assert isinstance(merged, nn.Conv2d) and merged.weight.shape == layer.weight.shape
    with torch.no_grad():
        assert torch.allclose(pair(x), low(x), atol=1e-5)
        assert torch.allclose(merged(x), high(x), atol=1e-5)


def test_budget_removes_lowest_scores_and_keeps_one_basis_per_layer() -> None:
    costs = [
        LayerCost("a", n=9, out=4, rank=4, positions=1),
        LayerCost("b", n=9, out=4, rank=4, positions=1),
    ]
    scores = [torch.tensor([4.0, 3.0, 2.0, 1.0]), torch.tensor([8.0, 7.0, 6.0, 5.0])]
    base = {"params": 2 * 36}
    kept = select(costs, scores, base, {"params": 0.7}, normalize=False)
    assert kept == [[0], [0, 1, 2, 3]]  # a's low scores go first; 13 + 36 <= 0.7 * 72
    with pytest.raises(pk.ConfigError, match="one basis in each"):
        select(costs, scores, base, {"params": 0.01}, normalize=False)


def _data() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 3, 8, 8, generator=g)
    y = (x[:, 0].mean((1, 2)) > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=32)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 2),
    ).eval()


def test_basis_pruning_meets_the_target_with_stock_layers_and_reloads(tmp_path: Path) -> None:
    model = _net()
    x = torch.randn(2, 3, 8, 8)
    original = copy.deepcopy(model.state_dict())
    config = pk.BasisConfig(target=pk.Target(params=0.5), epochs=1)
    result = pk.prune(model, config, example_inputs=x, train_data=_data())
    assert 0.3 < result.after.params / result.before.params <= 0.5
    assert not any(isinstance(m, BasisScaled) for m in result.model.modules())
    assert all(p.requires_grad for p in result.model.parameters())
    assert result.details["ranks"]["3"]["kept"] < 32
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in original.items())
    pk.save(result, tmp_path)
    loaded = pk.load(tmp_path, base=_net)
    with torch.no_grad():
        assert torch.equal(loaded(x), result.model(x))


def test_double_pruning_composes_channels_then_bases(tmp_path: Path) -> None:
    x = torch.randn(2, 3, 8, 8)
    config = pk.DoubleConfig(
        channel=pk.ChannelConfig(target=pk.Target(params=0.7), round_to=1),
        basis=pk.BasisConfig(target=pk.Target(params=0.45), epochs=1),
    )
    result = pk.prune(_net(), config, example_inputs=x, train_data=_data())
    kept = result.after.params / result.before.params
    assert 0.4 < kept <= 0.45  # counted from the channel-pruned model, not the original again
    ops = [e.op for e in result.plan.edits]
    assert "channels" in ops
    pk.save(result, tmp_path)
    with torch.no_grad():
        assert torch.equal(pk.load(tmp_path, base=_net)(x), result.model(x))


def test_basis_bad_input() -> None:
    with pytest.raises(pk.ConfigError, match="params= and/or macs="):
        pk.BasisConfig(target=pk.Target(layers=0.5))
    with pytest.raises(pk.ConfigError, match="train_data"):
        pk.prune(
            _net(),
            pk.BasisConfig(target=pk.Target(params=0.5)),
            example_inputs=torch.randn(2, 3, 8, 8),
        )
    depthwise = nn.Sequential(nn.Conv2d(4, 4, 3, groups=4), nn.Flatten(), nn.Linear(4 * 36, 2))
    with pytest.raises(pk.ConfigError, match="no ungrouped conv"):
        pk.prune(
            depthwise,
            pk.BasisConfig(target=pk.Target(params=0.5), epochs=0),
            example_inputs=torch.randn(2, 4, 8, 8),
            train_data=[(torch.randn(2, 4, 8, 8), torch.tensor([0, 1]))],
        )
    with pytest.raises(pk.ConfigError, match=r"cannot be reached .* gives \{'params'"):
        pk.prune(  # refused before training: training on no batch would raise another error
            _net(),
            pk.BasisConfig(target=pk.Target(params=0.01), epochs=10**6),
            example_inputs=torch.randn(2, 3, 8, 8),
            train_data=[],
        )


def test_double_pruning_takes_a_target_alone() -> None:
    config = pk.DoubleConfig(target=pk.Target(params=0.3), seed=1)
    channel, basis = config.stages()  # channel pruning to min(2 x 0.3, (1 + 0.3) / 2)
    assert channel.target == pk.Target(params=0.6) and channel.importance == "taylor"
    assert basis.target == pk.Target(params=0.3) and (channel.seed, basis.seed) == (1, 1)
    x = torch.randn(2, 3, 8, 8)
    result = pk.prune(_net(), config, example_inputs=x, train_data=_data())
    assert 0.25 < result.after.params / result.before.params <= 0.3
    assert pk.DoubleConfig(target=pk.Target(macs=0.9)).stages()[0].target.macs == 0.95
    with pytest.raises(pk.ConfigError, match="target= alone, or channel= and basis="):
        pk.DoubleConfig(target=pk.Target(params=0.3), basis=pk.BasisConfig(pk.Target(params=0.3)))
    with pytest.raises(pk.ConfigError, match="or target=pk.Target"):
        pk.DoubleConfig()


@pytest.mark.slow
def test_double_pruning_of_the_pretrained_lite0_on_digits_at_small_scale(tmp_path: Path) -> None:
    """The real pipeline of benchmarks/basis.py, small (tests/learned.py): the zoo's ImageNet
    EfficientNet-Lite0 transferred to digits at 32 px, double pruning to 10% of its params,
    fine-tuned; its accuracies are bounded by measurements over seeds (docs/testing.md)."""
    run = lite0_double_pruning(0)
    result = run.result
    assert run.dense > BOUNDS["lite0_dense"]
    assert result.after.params / result.before.params <= 0.1
    assert result.details["ranks"] and all(
        type(m).__module__.startswith(("torch.nn", "timm")) for m in result.model.modules()
    )
    assert run.pruned > BOUNDS["lite0_pruned"], (run.dense, run.pruned)  # chance is 0.1
    pk.save(result, tmp_path)
    loaded = pk.load(tmp_path)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(run.example), result.model.eval()(run.example))


def _wide() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 128, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(128, 128, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, 2),
    ).eval()


@pytest.mark.slow
def test_export_by_latency_splits_only_layers_that_run_faster_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a deterministic stand-in for the measured tables: weights read plus a per-layer cost, so
    # small ranks split and full ones merge whatever the machine's load (the real tables are
    # tested in tests/test_latency.py)
    def cost(_table: LatencyTable, shape: LayerShape) -> float:
        return shape.inputs * shape.outputs * math.prod(shape.kernel or (1,)) / shape.groups + 5e3

    monkeypatch.setattr(LatencyTable, "latency_ms", cost)
    model, x = _wide(), torch.randn(2, 3, 32, 32)
    data = DataLoader(TensorDataset(torch.randn(16, 3, 32, 32), torch.arange(16) % 2), batch_size=8)
    config = pk.BasisConfig(target=pk.Target(params=0.5), epochs=1, export="latency")
    result = pk.prune(model, config, example_inputs=x, train_data=data)
    assert result.after.params / result.before.params <= 0.5
    timed = [r for r in result.details["ranks"].values() if "split_ms" in r]
    assert timed
    for ranks in timed:
        if not ranks["merged"]:
            assert ranks["split_ms"] < ranks["merged_ms"]
    assert any(not r["merged"] for r in timed) and any(r["merged"] for r in timed)
    pk.save(result, tmp_path)
    with torch.no_grad():
        assert torch.equal(pk.load(tmp_path, base=_wide)(x), result.model(x))
    with pytest.raises(pk.ConfigError, match="export is 'fast'"):
        pk.BasisConfig(target=pk.Target(params=0.5), export="fast")


def test_layers_faster_merged_are_counted_whole_and_the_others_pay() -> None:
    costs = [LayerCost("a", 64, 64, 16, 10), LayerCost("b", 64, 64, 16, 10)]
    scores = [torch.arange(16.0), torch.arange(16.0) + 0.5]
    base = {"params": 2 * 64 * 64 + 100, "macs": 1}
    forms = Forms.__new__(Forms)
    forms.times = lambda path, rank: (2.0, 1.0) if path == "a" else (0.5, 1.0)  # type: ignore[method-assign]

    def choose(priced: list[LayerCost]) -> list[list[int]]:
        return select(priced, scores, base, {"params": 0.75}, False)

    kept, split = forms.settle(["a", "b"], costs, choose)
    assert split == [False, True] and len(kept[0]) == 16  # "a" merged, its bases all kept
    assert costs[1].params(len(kept[1])) + 64 * 64 + 100 <= 0.75 * base["params"]
    with pytest.raises(pk.ConfigError, match="export='latency'"):
        forms.settle(
            ["a", "b"],
            costs,
            lambda p: select(p, scores, base, {"params": 0.3}, False),
        )
