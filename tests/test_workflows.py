"""Features used the way users chain them, end to end: prune, fine-tune in train mode, save,
load in a fresh process, prune again, save what pk.load returned. Every save must load in a
new Python process and give the same outputs, bit for bit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import prunekit as pk
from prunekit.core.model.inputs import call_model, primary_output
from prunekit.core.model.modes import num_threads
from prunekit.models.spec import plan_of
from prunekit.train import fit
from tests.hf_tiny import inputs as hf_inputs
from tests.hf_tiny import tiny

ROOT = Path(__file__).resolve().parent.parent
X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _batches(x: torch.Tensor, classes: int = 10) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    noise = 0.1 * torch.randn(x.shape, generator=g)
    return [(x + noise, torch.randint(0, classes, (len(x),), generator=g))]


def _fresh_outputs(saves: list[Path], x: Any, tmp: Path) -> list[torch.Tensor]:
    """pk.load of every directory in ``saves`` in one new Python process, run on ``x``; their
    primary outputs (one process per test: starting Python with torch costs seconds)."""
    names = sorted(x) if isinstance(x, dict) else ["x"]
    tensors = x if isinstance(x, dict) else {"x": x}
    save_file({k: tensors[k].contiguous() for k in names}, str(tmp / "inputs.safetensors"))
    script = (
        "import sys, torch, prunekit as pk\n"
        "from safetensors.torch import load_file, save_file\n"
        "from prunekit.core.model.inputs import primary_output\n"
        "torch.set_num_threads(1)\n"
        "x = load_file(sys.argv[1])\n"
        "for i, directory in enumerate(sys.argv[3:]):\n"
        "    model = pk.load(directory)\n"
        "    with torch.no_grad():\n"
        "        out = model(**x) if 'x' not in x else model(x['x'])\n"
        "    save_file({'y': primary_output(out).contiguous()}, f'{sys.argv[2]}.{i}')\n"
    )
    out = tmp / "outputs.safetensors"
    command = [sys.executable, "-c", script, str(tmp / "inputs.safetensors"), str(out)]
    subprocess.run([*command, *map(str, saves)], check=True, cwd=ROOT, capture_output=True)
    return [load_file(f"{out}.{i}")["y"] for i in range(len(saves))]


def _outputs(model: nn.Module, x: Any) -> torch.Tensor:
    """Outputs in eval mode, on one thread as in the fresh process (bit-exact comparisons)."""
    with num_threads(1), torch.no_grad():
        return primary_output(call_model(model.eval(), x))


def _round_trips(saved: dict[Path, nn.Module], x: Any, tmp: Path) -> None:
    """Every model was saved to its directory: a fresh process loads each, same outputs."""
    fresh = _fresh_outputs(list(saved), x, tmp)
    for (directory, model), outputs in zip(saved.items(), fresh, strict=True):
        assert torch.equal(outputs, _outputs(model, x)), directory


def _channels(params: float) -> pk.ChannelConfig:
    return pk.ChannelConfig(target=pk.Target(params=params), importance="l2")


@pytest.mark.slow  # a fresh Python process each: ~13 s
def test_channel_then_channel_saves_and_loads_in_a_fresh_process(tmp_path: Path) -> None:
    model = pk.zoo.model("resnet18", num_classes=10)
    first = pk.prune(model, _channels(0.7), example_inputs=X)
    second = pk.prune(first.model, _channels(0.5), example_inputs=X)
    assert second.after.params < first.after.params
    assert len(second.plan) < len(plan_of(second.model))  # the lineage is longer
    pk.save(second, tmp_path / "result")  # the PruneResult
    pk.save(second.model, tmp_path / "model")  # or its model
    _round_trips({tmp_path / "result": second.model, tmp_path / "model": second.model}, X, tmp_path)


@pytest.mark.slow  # a fresh Python process each: ~13 s
def test_load_fine_tune_in_train_mode_save_and_load_again(tmp_path: Path) -> None:
    model = pk.zoo.model("resnet18", num_classes=10)
    pk.save(pk.prune(model, _channels(0.5), example_inputs=X), tmp_path / "pruned")
    loaded = pk.load(tmp_path / "pruned")
    fit(loaded, _batches(X), epochs=1, lr=1e-3)  # train mode: batch norms update their stats
    pk.save(loaded, tmp_path / "tuned")
    again = pk.prune(pk.load(tmp_path / "tuned"), _channels(0.3), example_inputs=X)
    pk.save(again.model, tmp_path / "again")
    _round_trips({tmp_path / "tuned": loaded, tmp_path / "again": again.model}, X, tmp_path)


@pytest.mark.slow  # a fresh Python process each: ~13 s
def test_layers_then_channels_on_a_hugging_face_model(tmp_path: Path) -> None:
    x = hf_inputs("llama")
    layers = pk.prune(
        tiny("llama"), pk.LayerConfig(target=pk.Target(layers=0.67), criterion="last"), x
    )
    assert layers.model.config.num_hidden_layers == 2
    width = pk.prune(layers.model, _channels(0.6), example_inputs=x)
    pk.save(width.model, tmp_path / "llama")
    _round_trips({tmp_path / "llama": width.model}, x, tmp_path)


@pytest.mark.slow  # a fresh Python process each: ~13 s
def test_basis_after_channel_pruning(tmp_path: Path) -> None:
    model = pk.zoo.model("resnet18", num_classes=10)
    channel = pk.prune(model, _channels(0.6), example_inputs=X)
    basis = pk.prune(
        channel.model,
        pk.BasisConfig(target=pk.Target(params=0.4), epochs=1),
        example_inputs=X,
        train_data=_batches(X),
    )
    pk.save(basis.model, tmp_path / "basis")
    _round_trips({tmp_path / "basis": basis.model}, X, tmp_path)


def test_a_model_changed_by_hand_is_refused_at_save_time_with_the_fix(tmp_path: Path) -> None:
    result = pk.prune(pk.zoo.model("resnet18", num_classes=10), _channels(0.5), example_inputs=X)
    result.model.fc = nn.Linear(result.model.fc.in_features, 3)  # a new head, by hand
    with pytest.raises(pk.PrunekitError, match=r"fc.weight .*base=factory"):
        pk.save(result.model, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()

    def factory() -> nn.Module:
        built = pk.zoo.model("resnet18", num_classes=10)
        built.fc = nn.Linear(512, 3)
        return built

    pk.save(result.model, tmp_path / "kept", base=factory)
    loaded = pk.load(tmp_path / "kept", base=factory)
    assert torch.equal(_outputs(loaded, X), _outputs(result.model, X))
