"""prunekit run / report / compare / demo: recipes are validated, runs resume, reports render."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from prunekit.cli import main
from prunekit.errors import ConfigError, PrunekitError, UnknownNameError
from prunekit.methods.registry import entries
from prunekit.run import pipeline
from prunekit.run.recipe import load_recipe, packaged_names, packaged_recipe, parse_recipe


def _recipe(**changes: Any) -> dict[str, Any]:
    recipe: dict[str, Any] = {
        "model": {"name": "small_resnet", "options": {"dims": 2, "blocks": 2, "width": 8}},
        "data": {"name": "digits", "batch_size": 128},
        "train": {"epochs": 1, "lr": 0.003},
        "method": {"name": "channel", "config": {"target": {"params": 0.6}, "round_to": 1}},
        "finetune": {"epochs": 1},
        "seeds": [0],
    }
    recipe.update(changes)
    return recipe


def _write(path: Path, recipe: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_every_method_has_a_packaged_recipe_that_validates() -> None:
    names = packaged_names()
    covered = {packaged_recipe(n).method.name for n in names}
    assert covered == {entry.name for entry in entries()}
    assert "demo" in names


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"train": {"epocs": 3}}, r"field train\.epocs: Extra inputs are not permitted"),
        ({"train": {"epochs": -1}}, r"field train\.epochs.*value -1"),
        ({"seeds": []}, r"field seeds"),
        ({"method": {"name": "prune_it"}}, r"unknown method 'prune_it'; available: adaptive"),
        (
            {"method": {"name": "channel", "config": {"target": {"params": 0.5}, "scop": "x"}}},
            r"method\.config\.scop is not a field of ChannelConfig; known fields: target",
        ),
        (
            {"method": {"name": "channel", "config": {"target": {"params": 2}}}},
            r"Target\.params is 2",
        ),
    ],
)
def test_recipe_errors_name_the_field_and_value(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PrunekitError, match=message):
        parse_recipe(_recipe(**change))


def test_unknown_names_list_the_available_ones(tmp_path: Path) -> None:
    recipe = parse_recipe(_recipe(data={"name": "cifar11"}))
    with pytest.raises(UnknownNameError, match="unknown dataset 'cifar11'; available: .*digits"):
        pipeline.run_recipe(recipe, tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="packaged recipes: .*demo"):
        load_recipe(tmp_path / "nope.yaml")


def test_run_report_compare_and_resume_after_an_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = _write(tmp_path / "r.yaml", _recipe())
    out = tmp_path / "run"
    real_fit = pipeline.fit
    calls = {"n": 0}

    def interrupted_fit(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the fine-tuning
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(pipeline, "fit", interrupted_fit)
    assert main(["run", str(recipe), "--out", str(out), "--quiet"]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    state = json.loads((out / "seed-0" / "state.json").read_text())
    assert set(state) == {"dense", "prune"}
    dense_mtime = os.path.getmtime(out / "seed-0" / "dense" / "weights.safetensors")
    assert not (out / ".lock").exists()  # released on the interrupt

    monkeypatch.setattr(pipeline, "fit", real_fit)
    assert main(["run", str(recipe), "--out", str(out), "--quiet"]) == 0
    assert os.path.getmtime(out / "seed-0" / "dense" / "weights.safetensors") == dense_mtime
    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"]["after"] <= 0.62 * summary["params"]["before"]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 1 and "Plan: layer shapes" in page
    markdown = (out / "report.md").read_text()
    assert "| params |" in markdown and "latency" in markdown and "figures/" in markdown

    other = tmp_path / "other"
    assert main(["run", str(recipe), "--out", str(other), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), str(other)]) == 0
    table = capsys.readouterr().out
    assert str(out) in table and str(other) in table and "ChannelConfig" in table


def test_a_finished_run_reports_what_its_saved_models_measure(tmp_path: Path) -> None:
    """Params and MACs in summary.json, report.md and compare are re-measured from the saved
    dense and final models at the recorded inputs (batch and shape): the same figures."""
    import torch

    import prunekit as pk
    from prunekit.report import compare_runs, write_report

    out = tmp_path / "run"
    recipe = parse_recipe(_recipe(train={"epochs": 0}, finetune={"epochs": 0}))
    summary = pipeline.run_recipe(recipe, out, progress=False)
    macs = summary["macs"]
    assert macs["batch"] == 1 and macs["inputs"]["before"] == "((1, 1, 8, 8) float32)"
    x = torch.randn(1, 1, 8, 8)
    before = pk.measure(pk.load(out / "seed-0" / "dense"), x)
    after = pk.measure(pk.load(out / "seed-0" / "model"), x)
    assert (summary["params"]["before"], summary["params"]["after"]) == (
        before.params,
        after.params,
    )
    assert (macs["before"], macs["after"]) == (before.macs, after.macs)
    removed = f"{1 - after.macs / before.macs:.1%} removed"
    markdown, _ = write_report(out)
    row = next(line for line in markdown.read_text().splitlines() if line.startswith("| MACs"))
    assert f"{before.macs:,}" in row and f"{after.macs:,}" in row and removed in row
    assert "batch 1, inputs ((1, 1, 8, 8) float32)" in row
    assert f"| {1 - after.macs / before.macs:.1%} (batch 1, inputs" in compare_runs([out])


def test_an_output_directory_is_not_overwritten_or_shared(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = parse_recipe(_recipe(train={"epochs": 0}, finetune={"epochs": 0}))
    pipeline.run_recipe(first, out, progress=False)
    second = parse_recipe(_recipe(train={"epochs": 0}, finetune={"epochs": 0}, seeds=[1]))
    with pytest.raises(ConfigError, match="holds another run.*--force"):
        pipeline.run_recipe(second, out, progress=False)
    (out / ".lock").write_text(str(os.getpid()))
    with pytest.raises(ConfigError, match="in use by another prunekit run"):
        pipeline.run_recipe(first, out, progress=False)
    (out / ".lock").write_text("999999999")  # a stale lock: its process is gone
    pipeline.run_recipe(second, out, force=True, progress=False)
    assert json.loads((out / "summary.json").read_text())["seeds"] == [1]
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        pipeline.run_recipe(first, stray, progress=False)


@pytest.mark.slow
def test_quick_demo_runs_offline_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--quick", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "params:" in out and "report:" in out and "speed-up" in out
    assert (tmp_path / "demo" / "report.html").is_file()


def _chromium() -> str | None:
    return next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )


def _screenshot(browser: str, page: Path, shot: Path, profile: Path) -> float:
    """Headless screenshot of ``page``; the fraction of strongly coloured pixels in it (the
    figures: text and tables are black, grey and white)."""
    import numpy as np
    from PIL import Image

    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,4000", f"--screenshot={shot}",
    ]  # fmt: skip
    subprocess.run([browser, *flags, page.resolve().as_uri()], check=True, capture_output=True)
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    return float(((rgb.max(-1) - rgb.min(-1)) > 60).mean())


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="needs Chromium (Debian: apt-get install chromium)")
def test_report_page_renders_its_figures_in_headless_chromium(tmp_path: Path) -> None:
    out = tmp_path / "run"
    pipeline.run_recipe(parse_recipe(_recipe()), out, progress=False)
    from prunekit.report import write_report

    _, page = write_report(out)
    browser = str(_chromium())
    coloured = _screenshot(browser, page, tmp_path / "shot.png", tmp_path / "profile")
    bare = tmp_path / "bare.html"  # the same page without its figures
    bare.write_text(re.sub(r"<img[^>]*>", "", page.read_text()))
    without = _screenshot(browser, bare, tmp_path / "bare.png", tmp_path / "profile")
    assert coloured > 0.005, coloured  # the embedded figures are drawn
    assert without < coloured / 10, (without, coloured)
