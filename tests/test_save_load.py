from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

import prunekit as pk
from tests.nets import ResidualNet


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Path, pk.PruneResult, torch.Tensor]:
    x = torch.randn(2, 3, 32, 32)
    model = pk.zoo.model("resnet18", num_classes=4)
    result = pk.prune(
        model, pk.ChannelConfig(target=pk.Target(params=0.5), importance="random"), example_inputs=x
    )
    pk.save(result, tmp_path / "run")
    return tmp_path / "run", result, x


def test_round_trip_is_bit_exact(saved: tuple[Path, pk.PruneResult, torch.Tensor]) -> None:
    path, result, x = saved
    assert sorted(p.name for p in path.iterdir()) == [
        "base.json",
        "plan.json",
        "weights.safetensors",
    ]
    loaded = pk.load(path)
    for key, value in result.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    result.model.eval()
    assert torch.equal(loaded(x), result.model(x))


def test_user_model_needs_a_factory(tmp_path: Path) -> None:
    x = torch.randn(2, 3, 8, 8)
    result = pk.prune(
        ResidualNet(), pk.ChannelConfig(target=pk.Target(params=0.6)), example_inputs=x
    )
    pk.save(result, tmp_path)
    with pytest.raises(pk.PrunekitError, match="base=factory"):
        pk.load(tmp_path)
    loaded = pk.load(tmp_path, base=ResidualNet)
    result.model.eval()
    assert torch.equal(loaded(x), result.model(x))


def test_corrupted_or_truncated_weights(saved: tuple[Path, pk.PruneResult, torch.Tensor]) -> None:
    path, _, _ = saved
    weights = path / "weights.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(pk.PrunekitError, match="truncated or corrupted"):
        pk.load(path)


def test_pickle_is_refused_and_never_run(
    tmp_path: Path, saved: tuple[Path, pk.PruneResult, torch.Tensor]
) -> None:
    path, _, _ = saved
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple:
            return (marker.write_text, ("ran",))

    (path / "weights.safetensors").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(pk.PrunekitError):
        pk.load(path)
    assert not marker.exists()


def test_edited_plan_and_base_are_refused(saved: tuple[Path, pk.PruneResult, torch.Tensor]) -> None:
    path, _, _ = saved
    plan = json.loads((path / "plan.json").read_text())
    plan["edits"][0]["path"] = "layer9.conv"
    (path / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(pk.PrunekitError, match="'layer9.conv' does not exist"):
        pk.load(path)
    base = json.loads((path / "base.json").read_text())
    base["version"] = 99
    (path / "base.json").write_text(json.dumps(base))
    with pytest.raises(pk.PrunekitError, match="version 99 is not readable"):
        pk.load(path)


def test_plan_from_another_base_is_refused(
    saved: tuple[Path, pk.PruneResult, torch.Tensor],
) -> None:
    path, _, _ = saved
    with pytest.raises(
        pk.PrunekitError, match="different base model|does not exist|belongs to another model"
    ):
        pk.load(path, base=lambda: pk.zoo.model("resnet34", num_classes=4))


def test_a_failed_save_keeps_the_previous_one(
    saved: tuple[Path, pk.PruneResult, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, result, x = saved
    before = (path / "weights.safetensors").read_bytes()

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("prunekit.io.save.save_model", disk_full)
    with pytest.raises(OSError, match="No space"):
        pk.save(result, path)
    assert (path / "weights.safetensors").read_bytes() == before
    assert not [p for p in path.iterdir() if p.name.endswith(".tmp")]
    assert torch.equal(pk.load(path)(x), result.model.eval()(x))
