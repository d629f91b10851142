"""Every registered method that trains (``MethodEntry.resumable``), run in separate processes by
tests/method_run.py: killed after its first checkpoint and resumed, it ends with the weights of
an uninterrupted run; under ``torchrun`` with two gloo processes both ranks end identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from prunekit.methods.registry import entries

sys.path.insert(0, str(Path(__file__).parent))
from method_run import CONFIGS

RUN = [sys.executable, str(Path(__file__).with_name("method_run.py"))]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(["src", os.environ.get("PYTHONPATH", "")])}
TRAINING = [e.name for e in entries() if e.resumable]
EPOCHS = 6


def test_every_method_that_trains_has_a_resume_and_torchrun_run() -> None:
    assert sorted(TRAINING) == sorted(CONFIGS), "add the method to tests/method_run.py CONFIGS"


def _finish(method: str, checkpoint: Path | str, out: Path) -> dict[str, torch.Tensor]:
    command = [*RUN, method, str(checkpoint), str(out), str(EPOCHS)]
    subprocess.run(command, check=True, env=ENV, timeout=300)
    return load_file(f"{out}.0")


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


@pytest.mark.slow
@pytest.mark.parametrize("method", TRAINING)
def test_a_killed_run_resumes_to_the_same_weights(method: str, tmp_path: Path) -> None:
    reference = _finish(method, tmp_path / "ref-ckpt", tmp_path / "ref")
    checkpoint = tmp_path / "ckpt"
    process = subprocess.Popen(
        [*RUN, method, str(checkpoint), str(tmp_path / "x"), str(EPOCHS)], env=ENV
    )
    deadline = time.time() + 240
    while not list(checkpoint.rglob("checkpoint.safetensors")) and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not Path(f"{tmp_path / 'x'}.0").exists()  # it was killed before finishing
    _same(reference, _finish(method, checkpoint, tmp_path / "resumed"))


@pytest.mark.slow
@pytest.mark.parametrize("method", TRAINING)
def test_distributed_training_on_two_cpu_processes(method: str, tmp_path: Path) -> None:
    port = 29500 + 17 * TRAINING.index(method) % 400
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_port", str(port), RUN[1], method, "", str(tmp_path / "ddp"), "2"]
    subprocess.run(command, check=True, env=ENV, timeout=300)
    _same(*(load_file(f"{tmp_path / 'ddp'}.{r}") for r in (0, 1)))
