"""Healing by distillation: the loss falls on one process; under torchrun with two gloo
processes and FSDP both ranks log the same loss, and a run stopped and resumed from its
checkpoint ends with the weights of a run never stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from prunekit.llm import Checkpoint, LLMPlan
from prunekit.llm.heal import HealOptions, heal
from prunekit.llm.write import write_pruned
from tests.llm_tiny import write_tiny

RUN = str(Path(__file__).parent / "llm_heal_run.py")
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("heal")
    write_tiny(root / "teacher", "llama", num_hidden_layers=4)
    with Checkpoint(root / "teacher") as checkpoint:
        write_pruned(checkpoint, LLMPlan((0, 1, 3)), root / "student")
    return root / "student", root / "teacher"


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return {k: v for f in sorted(directory.glob("*.safetensors")) for k, v in load_file(f).items()}


def test_distillation_lowers_the_loss_and_writes_a_checkpoint(pair, tmp_path) -> None:
    from transformers import AutoModelForCausalLM

    student, teacher = pair
    options = HealOptions(steps=6, lr=1e-3, batch_size=2, seq_len=16, sequences=4, progress=False)
    log = heal(student, teacher, tmp_path / "healed", options)
    assert len(log["loss"]) == 6
    assert log["loss"][-1] < 0.8 * log["loss"][0]
    healed = AutoModelForCausalLM.from_pretrained(tmp_path / "healed")
    assert healed.config.num_hidden_layers == 3
    before, after = _weights(student), _weights(tmp_path / "healed")
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert not list(tmp_path.glob(".healed.*"))  # state removed after a finished run


def test_hidden_loss_needs_the_same_width(pair, tmp_path) -> None:
    from prunekit.errors import ConfigError

    _, teacher = pair
    with Checkpoint(teacher) as checkpoint:
        layers = range(4)
        keep = tuple(range(0, 64, 2))
        write_pruned(checkpoint, LLMPlan(tuple(layers), hidden=keep), tmp_path / "narrow")
    with pytest.raises(ConfigError, match="same hidden width"):
        heal(tmp_path / "narrow", teacher, tmp_path / "o", HealOptions(steps=1, hidden_weight=1.0))


def test_heal_never_replaces_the_teacher_or_a_users_folder(pair, tmp_path) -> None:
    from prunekit.errors import PrunekitError

    student, teacher = pair
    options = HealOptions(steps=1, progress=False)
    with pytest.raises(PrunekitError, match="is or contains the input"):
        heal(student, teacher, teacher, options)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.json").write_text("{}")
    with pytest.raises(PrunekitError, match="refusing to replace it"):
        heal(student, teacher, tmp_path / "mine", options)
    assert (tmp_path / "mine" / "config.json").read_text() == "{}"


@pytest.mark.slow
def test_fsdp_on_two_gloo_processes_agrees_and_resumes(pair, tmp_path) -> None:
    """Two ranks of 2 sequences each see the sequences one process of 4 sees, so the FSDP run,
    stopped after 2 of 4 steps and resumed, must end like the single-process run; both ranks
    log the same losses."""
    student, teacher = pair

    def torchrun(port: int, *extra: str) -> None:
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
        out = str(tmp_path / "fsdp")
        command += ["--master_port", str(port), RUN, str(student), str(teacher), out, "4"]
        subprocess.run([*command, *extra], check=True, env=ENV, timeout=300)

    torchrun(29733, "2")  # stopped after two steps
    assert not (tmp_path / "fsdp").exists()
    torchrun(29735)
    losses = [json.loads(Path(f"{tmp_path / 'fsdp'}.log.{r}.json").read_text()) for r in "01"]
    assert losses[0] == losses[1] and len(losses[0]) == 4
    options = HealOptions(
        steps=4, lr=1e-3, batch_size=4, seq_len=16, sequences=8, checkpoint_every=1,
        progress=False,
    )  # fmt: skip
    single = heal(student, teacher, tmp_path / "single", options)
    assert losses[0] == pytest.approx(single["loss"], rel=1e-4)
    one, two = _weights(tmp_path / "single"), _weights(tmp_path / "fsdp")
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-4, atol=1e-5)
