"""Each method's distance to its anchor, over every result file present, for render.py.

Per task and operating point: the best of prunekit's methods against the best of the anchors
(mean test accuracy over seeds, after fine-tuning), and the difference in points.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from method_tables import group_rows

# result file prefix -> (point keys, prunekit's methods, anchors, accuracy field); on a tie the
# method listed first wins
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]] = {
    "basis-": (
        ("keep",),
        ("double", "basis", "channel-taylor", "channel-l2"),
        ("tp-taylor", "tp-l2"),
        "accuracy",
    ),
    "adaptive-mnist1d": ((), ("adaptive",), ("tp-taylor", "tp-l2"), "accuracy"),
    "adaptive-digits": ((), ("adaptive",), ("tp-taylor", "tp-l2"), "accuracy"),
    "sglp-mnist1d": (("keep",), ("sglp",), ("block_influence",), "finetuned"),
    "sglp-digits": (("keep",), ("sglp",), ("block_influence",), "finetuned"),
    "sfp-": (("rate",), ("crsfp", "sfp"), ("sfp-paper",), "accuracy"),
    "features": (("task", "keep"), ("prunekit",), ("selectkbest_mi",), "accuracy"),
}


def _best(
    rows: list[dict[str, Any]], methods: tuple[str, ...], field: str, seeds: set[int]
) -> tuple[str, float] | None:
    """The method with the best mean over ``seeds``; a method missing one of them (a run in
    progress) is left out."""
    means = {}
    for method in methods:
        values = [r[field] for r in rows if r["method"] == method and field in r]
        if values and len(values) == len(seeds):
            means[method] = 100 * statistics.mean(values)
    if not means:
        return None
    best = max(means, key=lambda m: means[m])  # first listed wins a tie
    return best, means[best]


def _seeds(rows: list[dict[str, Any]], methods: tuple[str, ...], field: str) -> set[int]:
    return {r["seed"] for r in rows if r["method"] in methods and field in r}


def rows_for(name: str, data: dict[str, Any]) -> list[str]:
    rule = next((r for prefix, r in RULES.items() if name.startswith(prefix)), None)
    if rule is None:
        return []
    keys, ours, anchors, field = rule
    points = group_rows([r for r in data["rows"] if all(k in r for k in keys)], *keys)
    lines = []
    for point, rows in points.items():
        seeds = _seeds(rows, ours + anchors, field)
        mine, anchor = _best(rows, ours, field, seeds), _best(rows, anchors, field, seeds)
        if mine is None or anchor is None:
            continue
        where = ", ".join(f"{k} {v}" for k, v in zip(keys, point, strict=True)) or "-"
        lines.append(
            f"| {name} | {where} | {len(seeds)} | {mine[0]} | {mine[1]:.2f} | {anchor[0]} "
            f"| {anchor[1]:.2f} | {mine[1] - anchor[1]:+.2f} |"
        )
    return lines


def distances(results: Path) -> str:
    lines = [
        "Best prunekit method against the best anchor at each operating point (mean test "
        "accuracy over the seeds of that point, after fine-tuning, in %; a method missing a seed "
        "is left out). Anchors: "
        "Torch-Pruning's BasePruner (Taylor, L2) for channel pruning, Block Influence for layer "
        "pruning, plain SFP as in the papers' code (raw filter norms) for SFP/CR-SFP, "
        "SelectKBest (mutual information) for feature selection.",
        "",
        "| result | point | seeds | prunekit | accuracy | anchor | accuracy | distance (points) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(results.glob("*.json")):
        lines += rows_for(path.stem, json.loads(path.read_text()))
    return "\n".join(lines)
