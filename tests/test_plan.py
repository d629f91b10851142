from __future__ import annotations

import json

import pytest
import torch

import prunekit as pk
from prunekit.core.edit.plan import ChannelEdit, Keep, ParameterEdit, Plan
from tests.nets import MLP, ResidualNet


def _pruned() -> tuple[pk.PruneResult, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    config = pk.ChannelConfig(target=pk.Target(params=0.6), importance="random")
    return pk.prune(ResidualNet(), config, example_inputs=x), x


def test_replay_on_fresh_model_gives_identical_structure() -> None:
    result, x = _pruned()
    replayed = Plan.loads(result.plan.dumps()).apply(ResidualNet())
    shapes = {k: v.shape for k, v in result.model.state_dict().items()}
    assert {k: v.shape for k, v in replayed.state_dict().items()} == shapes
    replayed.load_state_dict(result.model.state_dict())
    result.model.eval()
    replayed.eval()
    assert torch.equal(replayed(x), result.model(x))


def test_plan_json_round_trip_is_exact() -> None:
    result, _ = _pruned()
    text = result.plan.dumps()
    assert Plan.loads(text).to_json() == json.loads(text)
    assert json.loads(text)["format"] == "prunekit.plan"


def _plan_with(edit: dict) -> str:
    return json.dumps({"format": "prunekit.plan", "version": 1, "edits": [edit]})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"op": "channels", "path": "net.9", "out": {"size": 32, "keep": [0]}},
            "'net.9' does not exist",
        ),
        ({"op": "channels", "path": "net.0", "out": {"size": 32, "keep": [0, 40]}}, "out of range"),
        (
            {"op": "channels", "path": "net.0", "out": {"size": 64, "keep": [0, 1]}},
            "different base model",
        ),
        ({"op": "channels", "path": "net.0", "out": {"size": 32, "keep": []}}, "keeps no channel"),
        ({"op": "channels", "path": "net.0", "out": {"size": 32, "keep": [3, 1]}}, "sorted"),
        ({"op": "explode", "path": "net.0"}, "'op' must be one of"),
        (
            {"op": "channels", "path": "net.0", "out": {"size": 32, "keep": [0]}, "extra": 1},
            "unknown fields",
        ),
        ({"op": "parameter", "path": "nope", "axis": 0, "size": 2, "keep": [0]}, "does not exist"),
    ],
)
def test_bad_plans_are_refused_with_the_reason(edit: dict, message: str) -> None:
    with pytest.raises(pk.PrunekitError, match=message):
        Plan.loads(_plan_with(edit)).apply(MLP())


def test_plan_versions_and_garbage() -> None:
    with pytest.raises(pk.PlanError, match="'version' is 2"):
        Plan.from_json({"format": "prunekit.plan", "version": 2, "edits": []})
    with pytest.raises(pk.PlanError, match="not valid JSON"):
        Plan.loads("{broken")
    with pytest.raises(pk.PlanError, match="format"):
        Plan.from_json({"format": "other", "version": 1, "edits": []})


def test_parameter_and_channel_edits_apply() -> None:
    model = MLP()
    bias = torch.nn.Parameter(torch.arange(6.0).reshape(1, 6))
    model.register_parameter("extra", bias)
    plan = Plan(
        [ParameterEdit("extra", 1, Keep(6, (1, 4))), ChannelEdit("net.0", out=Keep(32, (0, 5, 9)))]
    )
    plan.apply(model)
    assert model.extra.tolist() == [[1.0, 4.0]]
    assert model.net[0].weight.shape == (3, 20) and model.net[0].out_features == 3
