"""Latency as a target: the layer tables and their cache, the prediction, the interleaved
check, channel pruning to Target(latency=...) and its refusals. Speed-up goals are measured in
benchmarks/latency.py; here the outcomes are asserted that hold on any machine: a returned
model is faster than the original (or an error says none was found), a missed target warns."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

import prunekit as pk
from prunekit.core.analysis.graph import ChannelGraph
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits
from prunekit.latency import goal as latency_goal
from prunekit.latency.compare import Comparison, compare
from prunekit.latency.predict import LatencyModel
from prunekit.latency.table import FORMAT, LatencyTable, LayerShape, layer_seconds, shape_of
from prunekit.methods.basis import forms as basis_forms
from prunekit.run import pipeline
from prunekit.run.recipe import parse_recipe


def wide_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
    ).eval()


X = torch.randn(64, 256)
SHAPE = LayerShape("linear", 64, 32, True, (8, 64))


def test_table_measures_once_then_reads_the_cache(tmp_path: Path) -> None:
    table = LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path)
    first = table.latency_ms(SHAPE)
    assert first > 0 and table.measured == 1
    assert table.latency_ms(SHAPE) == first and table.measured == 1  # in memory
    table.save()
    again = LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path)
    assert again.cached == 1 and again.latency_ms(SHAPE) == first and again.measured == 0
    assert again.stats()["path"] == str(table.path)
    # keyed by threads and dtype: another condition is another file
    other = LatencyTable(torch.device("cpu"), torch.float32, 2, tmp_path)
    assert other.path != table.path and other.cached == 0
    assert LatencyTable(torch.device("cpu"), torch.float64, 1, tmp_path).path != table.path
    # refresh measures again; a damaged file is measured again, never an error
    assert LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path, refresh=True).cached == 0
    table.path.write_text("{not json")
    assert LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path).cached == 0
    for damaged in ({"format": 1, "condition": {"device": "x"}, "entries": {}}, [1, 2]):
        table.path.write_text(json.dumps(damaged))
        assert LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path).cached == 0
    # refresh measures again and keeps the other entries in the file
    table.save()
    other_shape = LayerShape("linear", 32, 16, False, (4, 32))
    table.latency_ms(other_shape)
    table.save()
    fresh = LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path, refresh=True)
    fresh.latency_ms(SHAPE)
    fresh.save()
    assert LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path).cached == 2


def test_layer_timing_is_a_median_that_grows_with_the_layer(tmp_path: Path) -> None:
    small = layer_seconds(nn.Linear(8, 8), torch.randn(1, 8), threads=1)
    large = layer_seconds(nn.Linear(2048, 2048), torch.randn(64, 2048), threads=1)
    assert 0 < small < large / 20  # 1 MAC per 8,000 of the large layer's
    # a table written by an older timing is measured again, not mixed with new times
    table = LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path)
    table.latency_ms(SHAPE)
    table.save()
    data = json.loads(table.path.read_text())
    assert data["format"] == FORMAT
    table.path.write_text(json.dumps({**data, "format": FORMAT - 1}))
    assert LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path).cached == 0


def test_layer_shapes_build_stock_layers() -> None:
    conv = LayerShape("conv2d", 8, 16, False, (2, 8, 10, 10), (3, 3), (2, 2), (1, 1), (1, 1), 2)
    layer, tensor = conv.build(torch.device("cpu"), torch.float32)
    assert isinstance(layer, nn.Conv2d) and layer.groups == 2 and layer.bias is None
    assert layer(tensor).shape == (2, 16, 5, 5)
    assert json.loads(conv.key())["input_shape"] == [2, 8, 10, 10]


def test_prediction_of_the_original_is_its_measurement_and_falls_with_width(
    tmp_path: Path,
) -> None:
    model = wide_mlp()
    table = LatencyTable(torch.device("cpu"), torch.float32, 1, tmp_path)
    predictor = LatencyModel(model, X, table, measured_ms=1000.0)
    assert predictor.predict_ms(Plan([])) == pytest.approx(1000.0)
    scaled = LatencyModel(model, X, table, measured_ms=1e-6)  # tables above the whole
    assert scaled.predict_ms(Plan([])) == pytest.approx(1e-6) and scaled.rest_ms == 0
    groups = ChannelGraph(model, X).groups()
    removal = {p: list(range(g.size * 3 // 4)) for p, g in enumerate(groups)}
    smaller = predictor.fraction(Plan(group_edits(model, groups, removal)))
    assert 0 < smaller < 1
    assert table.path.exists()  # the tables are written as they grow


def test_interleaved_comparison_states_its_conditions() -> None:
    model = wide_mlp()
    result = compare(model, model, X, threads=1, rounds=3, min_run_time=0.01)
    for latency in (result.before, result.after):
        assert latency.threads == 1 and latency.batch_size == 64 and latency.repeats == 3
        assert latency.device == "cpu" and latency.dtype == "float32"
    assert result.noise >= 0 and result.ratio == pytest.approx(
        result.after.median_ms / result.before.median_ms
    )


@pytest.mark.slow
def test_latency_target_returns_a_faster_model_with_measured_numbers(tmp_path: Path) -> None:
    model = wide_mlp()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pk.prune(
            model, pk.ChannelConfig(target=pk.Target(latency=0.5), latency_threads=1), X
        )
    timed = result.details["latency"]
    assert timed["met"] != "no" or any("was not met" in str(w.message) for w in caught)
    assert timed["measured"] < 1.0 and timed["speedup"] > 1.0
    assert result.before.latency is not None and result.after.latency is not None
    assert result.after.ratio(result.before).speedup == pytest.approx(timed["speedup"])
    assert result.before.latency.threads == 1 and result.before.latency.batch_size == 64
    assert result.after.macs < result.before.macs
    assert "latency target 0.5" in result.summary() and "interleaved" in result.summary()
    assert timed["table"]["measured"] + timed["table"]["cached"] > 0
    assert len(timed["attempts"]) >= 1 and all(a["noise"] >= 0 for a in timed["attempts"])
    assert model[2].in_features == 1024  # the caller's model is untouched
    # what is saved measures the same again in a fresh load
    pk.save(result.model, tmp_path / "pruned")
    again = pk.measure(pk.load(tmp_path / "pruned", base=wide_mlp), X)
    assert (again.params, again.macs) == (result.after.params, result.after.macs)
    # a second run reads the tables from the cache instead of measuring them
    second = pk.prune(model, pk.ChannelConfig(target=pk.Target(latency=0.5), latency_threads=1), X)
    assert second.details["latency"]["table"]["cached"] > 0


def _fake_compare(*ratios: float, noise: float = 0.0):  # type: ignore[no-untyped-def]
    """A compare whose n-th call measures ``ratios[n]`` (the last one repeated)."""
    calls = iter([*ratios, *[ratios[-1]] * 10])

    def fake(
        reference: nn.Module, candidate: nn.Module, inputs: object, threads: int
    ) -> Comparison:
        real = compare(reference, candidate, inputs, threads, rounds=1, min_run_time=0.01)
        ratio = next(calls)
        after = pk.Latency(**{**real.before.__dict__, "median_ms": real.before.median_ms * ratio})
        return Comparison(real.before, after, noise=noise)

    return fake


@pytest.mark.slow
def test_a_model_not_faster_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(latency_goal, "compare", _fake_compare(1.05))
    with pytest.raises(pk.PrunekitError, match="no pruned model faster than the original"):
        pk.prune(wide_mlp(), pk.ChannelConfig(target=pk.Target(latency=0.5), latency_threads=1), X)


@pytest.mark.slow
def test_a_missed_target_warns_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(latency_goal, "compare", _fake_compare(0.8))
    with pytest.warns(UserWarning, match=r"Target\(latency=0.5\) was not met"):
        result = pk.prune(
            wide_mlp(), pk.ChannelConfig(target=pk.Target(latency=0.5), latency_threads=1), X
        )
    timed = result.details["latency"]
    assert timed["met"] == "no" and "MISSED" in result.summary()
    assert len(timed["attempts"]) == latency_goal.ATTEMPTS
    asked = [a["asked"] for a in timed["attempts"]]
    assert asked == sorted(asked, reverse=True) and asked[1] < 0.5  # the goal was tightened


def test_latency_targets_round_trip_and_are_refused_where_not_supported() -> None:
    config = pk.ChannelConfig(target=pk.Target(latency=0.5, params=0.8), latency_threads=2)
    assert pk.ChannelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(pk.ConfigError, match="latency_threads is 0"):
        pk.ChannelConfig(target=pk.Target(latency=0.5), latency_threads=0)
    with pytest.raises(pk.ConfigError, match="must be in"):
        pk.Target(latency=0)
    with pytest.raises(pk.ConfigError, match="SFPConfig.target"):
        pk.SFPConfig(target=pk.Target(features=0.5))
    sfp = pk.CRSFPConfig(target=pk.Target(latency=0.5), latency_threads=2)
    assert pk.CRSFPConfig.from_dict(sfp.to_dict()) == sfp
    features = pk.FeatureConfig(target=pk.Target(features=0.5, latency=0.5), epochs=1)
    with pytest.raises(pk.ConfigError, match=r"FeatureConfig.target.latency is 0.5.*ChannelConfig"):
        pk.prune(wide_mlp(), features, X)
    adaptive = pk.AdaptiveConfig(target=pk.Target(params=0.5, latency=0.5))
    with pytest.raises(pk.ConfigError, match=r"AdaptiveConfig.target.latency is 0.5"):
        pk.prune(wide_mlp(), adaptive, X)


@pytest.mark.slow
def test_layer_removal_to_a_latency_target() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    x = torch.randn(4, 3, 64, 64)
    config = pk.LayerConfig(target=pk.Target(latency=0.85), criterion="last", latency_threads=1)
    result = pk.prune(model, config, x)
    timed = result.details["latency"]
    assert result.details["removed"] and timed["measured"] < 1.0
    assert timed["met"] in ("yes", "within noise", "no") and timed["attempts"]
    assert result.after.latency is not None and result.after.latency.batch_size == 4
    assert "latency" in result.details["kept_fractions"]


def test_a_recipe_prunes_to_latency_at_the_batch_and_threads_it_measures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = pk.ChannelConfig(target=pk.Target(latency=0.5))
    assert pipeline._timed_with(channel, 3).latency_threads == 3
    given = pk.ChannelConfig(target=pk.Target(latency=0.5), latency_threads=2)
    assert pipeline._timed_with(given, 3).latency_threads == 2
    double = pk.DoubleConfig(channel=channel, basis=pk.BasisConfig(target=pk.Target(params=0.3)))
    timed = pipeline._timed_with(double, 3)
    assert timed.channel.latency_threads == 3 and timed.basis.latency_threads == 3
    seen: dict[str, object] = {}

    def stop(model: nn.Module, config: object, example_inputs: torch.Tensor, **_: object) -> None:
        seen.update(config=config, batch=example_inputs.shape[0])
        raise RuntimeError("stop here")

    monkeypatch.setattr(pipeline, "prune", stop)
    recipe = parse_recipe(
        {
            "model": {"name": "small_resnet", "options": {"dims": 2, "blocks": 2, "width": 8}},
            "data": {"name": "digits", "batch_size": 64},
            "train": {"epochs": 0},
            "method": {"name": "channel", "config": {"target": {"latency": 0.5}}},
            "finetune": {"epochs": 0},
            "latency_threads": 2,
        }
    )
    with pytest.raises(RuntimeError, match="stop here"):
        pipeline.run_recipe(recipe, tmp_path / "run", progress=False)
    assert seen["batch"] == 1 and seen["config"].latency_threads == 2  # type: ignore[attr-defined]


@pytest.mark.slow
def test_double_pruning_to_latency_times_the_final_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_basis import _wide

    x = torch.randn(2, 3, 32, 32)
    data = [(torch.randn(8, 3, 32, 32), torch.arange(8) % 2)]
    config = pk.DoubleConfig(
        channel=pk.ChannelConfig(target=pk.Target(latency=0.5), round_to=1, latency_threads=1),
        basis=pk.BasisConfig(target=pk.Target(params=0.2), epochs=1),
    )
    monkeypatch.setattr(latency_goal, "compare", _fake_compare(0.45))
    monkeypatch.setattr(basis_forms, "compare", _fake_compare(0.4))
    result = pk.prune(_wide(), config, example_inputs=x, train_data=data)
    final = result.details["latency"]["final"]
    assert final["met"] == "yes" and final["measured"] == pytest.approx(0.4)
    assert result.after.ratio(result.before).speedup == pytest.approx(2.5)
    assert "after the basis stage: measured 0.400" in result.summary()
    monkeypatch.setattr(basis_forms, "compare", _fake_compare(1.2))
    with pytest.raises(pk.PrunekitError, match="slower than the original"):
        pk.prune(_wide(), config, example_inputs=x, train_data=data)
    with pytest.raises(pk.ConfigError, match="DoubleConfig.target is"):
        pk.DoubleConfig(target=pk.Target(latency=0.5))


def test_layers_with_their_own_forward_are_not_timed_as_stock_layers() -> None:
    class PaddedConv(nn.Conv2d):  # like timm's Conv2dSame: pads in its forward
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(nn.functional.pad(x, (2, 2, 2, 2)))

    tensor = torch.randn(1, 4, 4, 4)
    assert shape_of(PaddedConv(4, 4, 5), tensor) is None
    assert shape_of(nn.Conv2d(4, 4, 5, padding=2), tensor) is not None
    assert shape_of(nn.modules.linear.NonDynamicallyQuantizableLinear(4, 4), tensor) is not None


@pytest.mark.slow
def test_the_fastest_attempt_is_kept_and_noise_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    config = pk.ChannelConfig(target=pk.Target(latency=0.5), latency_threads=1)
    monkeypatch.setattr(latency_goal, "compare", _fake_compare(0.8, 0.6, 0.9, 0.7))
    with pytest.warns(UserWarning, match="was not met"):
        result = pk.prune(wide_mlp(), config, X)
    timed = result.details["latency"]
    assert timed["measured"] == pytest.approx(0.6)
    assert timed["measured"] == min(a["measured"] for a in timed["attempts"])
    assert result.after.ratio(result.before).speedup == pytest.approx(1 / 0.6)
    monkeypatch.setattr(latency_goal, "compare", _fake_compare(0.52, noise=0.05))
    result = pk.prune(wide_mlp(), config, X)
    assert result.details["latency"]["met"] == "within noise"
    assert "met within the noise" in result.summary()


def test_nothing_to_remove_returns_the_model_untimed() -> None:
    result = pk.prune(wide_mlp(), pk.ChannelConfig(target=pk.Target(latency=1.0)), X)
    assert len(result.plan) == 0 and "returned unchanged" in result.summary()
    with pytest.raises(pk.ConfigError, match="BasisConfig.target.latency is 0.5"):
        pk.BasisConfig(target=pk.Target(params=0.5, latency=0.5))


@pytest.mark.slow
def test_sfp_prunes_to_latency_before_training_once_per_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.nets import ResidualNet  # a grouped and a depthwise conv

    timed: list[dict[str, torch.Size]] = []
    fake = _fake_compare(0.95, 0.8)

    def recording(reference: nn.Module, candidate: nn.Module, *args: object) -> Comparison:
        timed.append({k: v.shape for k, v in candidate.state_dict().items()})
        return fake(reference, candidate, *args)

    monkeypatch.setattr(latency_goal, "compare", recording)
    x = torch.randn(8, 3, 32, 32)
    data = [(torch.randn(8, 3, 32, 32), torch.arange(8) % 3) for _ in range(2)]
    config = pk.SFPConfig(
        target=pk.Target(latency=0.85), epochs=1, latency_threads=1, checkpoint_dir=str(tmp_path)
    )
    result = pk.prune(ResidualNet(), config, x, train_data=data)
    latency = result.details["latency"]
    assert latency["met"] == "yes" and [a["measured"] for a in latency["attempts"]] == [0.95, 0.8]
    assert latency["attempts"][1]["asked"] < 0.85  # searched again with the error corrected
    # the model trained and exported has exactly the shapes that were timed
    exported = {k: v.shape for k, v in result.model.state_dict().items()}
    assert exported == timed[-1] and result.model.grouped.out_channels < 32
    assert result.after.ratio(result.before).speedup == pytest.approx(1 / 0.8)
    assert "latency target 0.85" in result.summary()
    # a resumed run reuses the stored choice instead of timing again (another measurement could
    # choose another rate than the masks restored from the checkpoint)
    monkeypatch.setattr(latency_goal, "compare", None)
    again = pk.prune(ResidualNet(), config, x, train_data=data)
    assert again.details["rate"] == result.details["rate"]
    assert again.details["latency"] == latency and again.after.latency == result.after.latency
    assert {k: v.shape for k, v in again.model.state_dict().items()} == exported
