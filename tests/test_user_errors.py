"""Common mistakes get a clear error naming the value and the fix, never a raw traceback."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

import prunekit as pk
from prunekit.cli import main
from prunekit.run import pipeline
from prunekit.run.recipe import parse_recipe
from tests.hf_tiny import family

X = torch.randn(4, 1, 12)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return pk.zoo.model("small_resnet", dims=1, blocks=4, width=8, num_classes=4)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (torch.tensor([0, 1, 7, 2]), r"label 7 is out of range: the model has 4 outputs"),
        (torch.tensor([0, -3, 1, 2]), r"label -3 is out of range"),
        (torch.tensor([0.0, 1.0, 2.0, 3.0]), r"labels are float32 .*integer class indices"),
    ],
)
@pytest.mark.parametrize("config", ["taylor", "sglp"])
def test_bad_labels_are_named_with_the_fix(labels: torch.Tensor, message: str, config: str) -> None:
    data = [(X, labels)]
    method = (
        pk.ChannelConfig(target=pk.Target(params=0.5), importance="taylor")
        if config == "taylor"
        else pk.SGLPConfig(target=pk.Target(layers=0.5))
    )
    with pytest.raises(pk.InputError, match=message):
        pk.prune(_model(), method, example_inputs=X, train_data=data)


def test_a_classifier_fed_dict_batches_without_labels_is_refused() -> None:
    """labels = input_ids is right for a language model only."""
    import transformers

    config = transformers.BertConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        vocab_size=100,
        num_labels=3,
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config).eval()
    batch = {"input_ids": torch.randint(0, 100, (4, 12))}
    with pytest.raises(pk.InputError, match="without 'labels' for BertForSequenceClassification"):
        pk.prune(model, pk.SGLPConfig(target=pk.Target(layers=0.5)), batch, train_data=[batch])
    language_model = family("llama")  # a language model learns its input ids: accepted
    config_lm = pk.SGLPConfig(target=pk.Target(layers=0.5))
    assert pk.prune(language_model, config_lm, batch, train_data=[batch]).details["removed"]


def test_pk_load_onto_a_missing_device_says_so(tmp_path: Path) -> None:
    pk.save(pk.prune(_model(), pk.ChannelConfig(target=pk.Target(params=0.5)), X), tmp_path)
    if not torch.cuda.is_available():
        with pytest.raises(pk.PrunekitError, match=r"device='cuda'.*not available here"):
            pk.load(tmp_path, device="cuda")
    loaded = pk.load(tmp_path, device="meta")  # a device that always exists: really placed
    assert all(p.is_meta for p in loaded.parameters())


def test_saved_files_and_reports_follow_the_umask(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        pk.save(_model(), tmp_path / "save")
    finally:
        os.umask(before)
    for name in ("weights.safetensors", "plan.json", "base.json"):
        assert stat.S_IMODE((tmp_path / "save" / name).stat().st_mode) == 0o644


def _recipe(tmp_path: Path, **changes: object) -> Path:
    recipe = {
        "model": {"name": "small_resnet", "options": {"dims": 2, "blocks": 2, "width": 8}},
        "data": {"name": "digits", "batch_size": 128},
        "train": {"epochs": 0},
        "method": {"name": "channel", "config": {"target": {"params": 0.6}}},
        "finetune": {"epochs": 0},
        "seeds": [0],
        **changes,
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["measure", "resnet18", "--input-size", "-5"], "-5 is not allowed: it must be 1 or more"),
        (["measure", "resnet18", "--threads", "0"], "0 is not allowed"),
        (["measure", "resnet18", "--batch-size", "0"], "0 is not allowed"),
    ],
)
def test_bad_command_line_numbers_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_recipe_mistakes_exit_2_with_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = _recipe(tmp_path, model={"name": "small_resnet", "options": {"widht": 8}})
    assert main(["run", str(typo), "--out", str(tmp_path / "a"), "--quiet"]) == 2
    assert "recipe field model.options {'widht': 8}" in capsys.readouterr().err
    missing = _recipe(tmp_path, model={"name": "python:no_such_module:build"})
    assert main(["run", str(missing), "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert "add that directory to PYTHONPATH" in capsys.readouterr().err
    file = tmp_path / "file.txt"
    file.write_text("not a directory")
    good = _recipe(tmp_path)
    assert main(["run", str(good), "--out", str(file), "--quiet"]) == 2
    assert "is a file; fix: name a directory" in capsys.readouterr().err


def test_recipe_options_typo_is_a_config_error_from_python(tmp_path: Path) -> None:
    recipe = parse_recipe(
        yaml.safe_load(
            _recipe(tmp_path, model={"name": "resnet18", "options": {"num_clases": 10}}).read_text()
        )
    )
    with pytest.raises(pk.ConfigError, match="num_clases"):
        pipeline.run_recipe(recipe, tmp_path / "run", progress=False)


@pytest.mark.parametrize(
    "config",
    [pk.SFPConfig(rate=0.3, epochs=1), pk.LayerConfig(target=pk.Target(layers=0.5))],
)
def test_a_loss_the_method_would_not_use_is_refused(config: object) -> None:
    """SFP trains with its own cross-entropy: a loss_fn passed to it used to be dropped."""
    data = [(X, torch.tensor([0, 1, 2, 3]))]
    model = _model()
    with pytest.raises(pk.ConfigError, match=r"does not take loss_fn=.*fix: drop loss_fn"):
        pk.prune(model, config, example_inputs=X, train_data=data, loss_fn=nn.MSELoss())
