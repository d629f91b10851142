"""The benchmark harness: anchor distances and plots from result rows (fast), and the whole
harness end to end on its tiny profile (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import plots  # noqa: E402
import summary  # noqa: E402


def _basis_rows() -> dict:
    rows = [{"seed": 0, "method": "dense", "accuracy": 0.99, "params_kept": 1.0}]
    for seed, shift in ((0, 0.0), (1, 0.02)):
        rows += [
            {
                "seed": seed,
                "method": "double",
                "keep": 0.05,
                "accuracy": 0.96 + shift,
                "params_kept": 0.049 + shift,
            },
            {"seed": seed, "method": "channel-l2", "keep": 0.05, "accuracy": 0.90},
            {"seed": seed, "method": "tp-taylor", "keep": 0.05, "accuracy": 0.95},
            {"seed": seed, "method": "tp-l2", "keep": 0.05, "accuracy": 0.93 - shift},
            {"seed": seed, "method": "basis", "keep": 0.05, "unreachable": "floor 0.077"},
            {"seed": seed, "method": "channel-taylor", "keep": 0.05, "accuracy": 0.99},
        ]
    rows.pop()  # channel-taylor has one seed only: not compared on the seeds both have
    for row in rows:
        row.setdefault("params_kept", 0.05)
    return {"rows": rows}


def test_anchor_distance_is_best_method_minus_best_anchor() -> None:
    (line,) = summary.rows_for("basis-lite0", _basis_rows())
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells == [
        "basis-lite0", "keep 0.05", "2", "double", "97.00", "tp-taylor", "95.00", "+2.00"
    ]  # fmt: skip
    assert summary.rows_for("sglp-lm", {"rows": [{"method": "sglp"}]}) == []


def test_points_and_plot(tmp_path: Path) -> None:
    points = plots.basis(_basis_rows())
    assert points["double"] == {0.05: [(0.049, 96.0), (0.069, 98.0)]}  # one point, two seeds
    assert "basis" not in points  # an unreachable budget has no accuracy to draw
    adaptive = {"rows": [{"seed": s, "method": m, "dense": 0.9, "params_kept": 0.5,
                          "accuracy": 0.8} for s in (0, 1) for m in ("a", "b")]}  # fmt: skip
    assert plots.adaptive(adaptive)["dense"] == {"dense": [(1.0, 90.0), (1.0, 90.0)]}
    plots.plot(points, tmp_path / "figure.png", "test")
    assert (tmp_path / "figure.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
@pytest.mark.release  # six minutes: every benchmark script, before a release (.ci/run runs it)
def test_harness_runs_end_to_end_on_the_tiny_profile(tmp_path: Path) -> None:
    out, doc = tmp_path / "results", tmp_path / "bench.md"
    command = [sys.executable, str(BENCH / "run.py"), "--profile", "tiny", "--out", str(out)]
    subprocess.run([*command, "--doc", str(doc)], check=True, capture_output=True)
    log = json.loads((out / "harness.json").read_text())
    jobs = {"basis-lite0", "adaptive-digits", "sglp-digits", "sfp-mnist1d", "features"}
    assert set(log["jobs"]) == jobs and log["profile"] == "tiny"
    text = doc.read_text()
    for section in ("basis-lite0", "adaptive-digits", "sglp-digits", "sfp-mnist1d", "features"):
        assert f"<!-- {section} -->\nCommand: `python benchmarks/" in text
    for plot in ("basis-lite0", "adaptive-digits", "sglp-digits", "sfp-mnist1d"):
        assert (out / "figures" / f"accuracy-{plot}.png").exists()
        assert f"figures/accuracy-{plot}.png)" in text
    anchors = text.split("<!-- anchors -->")[1]
    for result in ("basis-lite0", "sglp-digits", "sfp-mnist1d", "features"):
        assert f"| {result} |" in anchors
    again = subprocess.run([*command, "--doc", str(doc)], check=True, capture_output=True)
    assert again.stdout.decode().count("done already") == len(jobs)
