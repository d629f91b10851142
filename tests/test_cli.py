from __future__ import annotations

import subprocess
import sys

import pytest

from prunekit import __version__
from prunekit.cli import main


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"prunekit {__version__}"
    assert main([]) == 0
    assert "measure" in capsys.readouterr().out


def test_measure_prints_reference_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "resnet18", "--no-latency"]) == 0
    out = capsys.readouterr().out
    assert "11,689,512" in out and "1,814,073,344" in out and "MACs" in out


def test_measure_with_latency_and_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "timm:resnet10t", "--input-size", "64", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "latency" in out and "batch 1, 1 threads, cpu, float32" in out


def test_unknown_model_exits_2_with_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "resnet_nope"]) == 2
    assert "unknown model 'resnet_nope'" in capsys.readouterr().err


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "prunekit.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert __version__ in done.stdout
