"""Render benchmark JSON results into docs/benchmarks.md (between generated markers).

    .venv/bin/python benchmarks/render.py [--results benchmarks/results] [--doc docs/benchmarks.md]

Each section is replaced between its markers; a doc that does not exist yet is created with a
heading per result present. Plots (accuracy against params kept, one per task) are written to
RESULTS/figures and linked; the anchors section compares each method with its anchor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

import large_tables
import method_tables as tables
import plots
from summary import distances

RESULTS = Path(__file__).parent / "results"
DOC = Path(__file__).parent.parent / "docs" / "benchmarks.md"


def _machine(data: dict[str, Any]) -> str:
    m = data["machine"]
    return (
        f"Machine: {m['cpu']}, {m['threads']} threads; torch {m['torch']}, "
        f"prunekit {m['prunekit']}, {m['date']}."
    )


def core_latency(data: dict[str, Any], command: str) -> str:
    lines = [
        f"Command: `{command}`. {_machine(data)} CPU, float32, median of "
        "`torch.utils.benchmark` blocked_autorange (at least 2 s per measurement).",
        "",
        "| model | scope | batch | round_to | params kept | MACs kept | MACs ratio "
        "| dense ms | pruned ms | latency speedup | speedup / MACs ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['model']} | {r.get('scope', 'global')} | {r['batch']} | {r['round_to']} "
            f"| {r['params_kept']:.3f} "
            f"| {r['macs_kept']:.3f} | {r['macs_speedup']:.2f}x | {r['dense_ms']:.1f} "
            f"| {r['pruned_ms']:.1f} | {r['latency_speedup']:.2f}x "
            f"| {r['latency_speedup'] / r['macs_speedup']:.2f} |"
        )
    return "\n".join(lines)


def latency_target(data: dict[str, Any], command: str) -> str:
    lines = [
        f"Command: `{command}`. {_machine(data)} CPU, float32, 224 px. Speed-ups are dense / "
        "pruned medians of one interleaved run per row (all four models timed in turn, order "
        f"rotating, {data.get('rounds', 5)} rounds of `torch.utils.benchmark` blocked_autorange, "
        f"at least {data.get('min_run_time', 0.2)} s each). "
        "'check' is the latency ratio the method's own interleaved check measured, with its "
        "noise (half the IQR of the per-round ratios); 'pred.' what the tables predicted; "
        "'tables s' the time spent measuring layers (a fresh cache per run).",
        "",
        "| model | batch | threads | dense ms | latency=0.5 speed-up (MACs kept) | check (noise) "
        "| pred. | macs=0.5 speed-up | Torch-Pruning speed-up (MACs kept) | tables s "
        "| prune s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        anchor = (
            f"{r['torch_pruning_speedup']:.2f}x ({r['torch_pruning_macs_kept']:.3f})"
            if "torch_pruning_speedup" in r
            else "failed"
        )
        met = {"yes": "", "within noise": " within noise", "no": " MISSED"}[str(r["target_met"])]
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['threads']} | {r['dense_ms']:.1f} "
            f"| {r['latency_speedup']:.2f}x ({r['latency_macs_kept']:.3f}) "
            f"| {r['check_measured']:.3f} ({r['check_noise']:.1%}){met} "
            f"| {r['predicted']:.3f} | {r['macs_speedup']:.2f}x | {anchor} "
            f"| {r['table_build_seconds']:.0f} | {r['prune_seconds']:.0f} |"
        )
    return "\n".join(lines)


def core_analysis(data: dict[str, Any], command: str) -> str:
    rows = sorted(data["rows"], key=lambda r: -r["seconds"])
    worst = rows[0]
    timm = [r for r in rows if r["model"].startswith("timm:")]
    slowest_timm = (
        f" slowest timm model: {timm[0]['model']} {timm[0]['seconds']:.2f} s." if timm else ""
    )
    lines = [
        f"Command: `{command}`. {_machine(data)} Time of `ChannelGraph(model, x).groups()` at "
        f"1x3x224x224 (299 for inception_v3); `timm:` rows are the timm models of the zoo tests. "
        f"Slowest: {worst['model']} {worst['seconds']:.2f} s;{slowest_timm}",
        "",
        "| model | seconds | groups | groups skipped by the analysis |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['seconds']:.2f} | {r['groups']} | {r['skipped']} |" for r in rows
    ]
    return "\n".join(lines)


SECTIONS = {
    f"core-latency-{scope}-r{r}": (
        f"core-latency-{scope}-r{r}.json",
        core_latency,
        f"python benchmarks/core.py latency --threads 2 --scope {scope} --round-to {r}",
    )
    for scope in ("global", "local")
    for r in (1, 8)
}
SECTIONS |= {
    "core-analysis": ("core-analysis.json", core_analysis, "python benchmarks/core.py analysis"),
    "sglp-mnist1d": ("sglp-mnist1d.json", tables.sglp_classify, ""),
    "sglp-mnist1d-hard": ("sglp-mnist1d-hard.json", tables.sglp_classify, ""),
    "sglp-digits": ("sglp-digits.json", tables.sglp_classify, ""),
    "sglp-minilm": ("sglp-minilm.json", tables.sglp_minilm, ""),
    "sglp-lm": ("sglp-lm.json", tables.sglp_lm, ""),
    "sglp-cka-cost": ("sglp-cka-cost.json", tables.sglp_cost, ""),
    "features": ("features.json", tables.features, ""),
    "sfp-mnist1d": ("sfp-mnist1d.json", tables.sfp, ""),
    "sfp-digits": ("sfp-digits.json", tables.sfp, ""),
    "adaptive-mnist1d": ("adaptive-mnist1d.json", tables.adaptive, ""),
    "adaptive-digits": ("adaptive-digits.json", tables.adaptive, ""),
    "adaptive-mnist1d-hard": ("adaptive-mnist1d-hard.json", tables.adaptive, ""),
    "adaptive-sweep-mnist1d": ("adaptive-sweep-mnist1d.json", tables.adaptive, ""),
    "basis-lite0": ("basis-lite0.json", tables.basis, ""),
    "basis-resnet18": ("basis-resnet18.json", tables.basis, ""),
    "basis-resnet18-hard": ("basis-resnet18-hard.json", tables.basis, ""),
    "scaling": ("scaling.json", tables.scaling, ""),
    "scaling-core": ("scaling-core.json", tables.scaling, ""),
    "large": ("large.json", large_tables.table, ""),
    "latency": ("latency.json", latency_target, "python benchmarks/latency.py"),
}
# plot name -> (result file, extractor in plots.EXTRACT, title)
PLOTS = {
    "basis-lite0": ("basis-lite0.json", "basis", "EfficientNet-Lite0 -> digits"),
    "basis-resnet18": ("basis-resnet18.json", "basis", "ResNet-18 on digits"),
    "basis-resnet18-hard": (
        "basis-resnet18-hard.json",
        "basis",
        "ResNet-18 on digits, 30% of the images for training",
    ),
    "adaptive-mnist1d": ("adaptive-mnist1d.json", "adaptive", "adaptive, mnist1d"),
    "adaptive-digits": ("adaptive-digits.json", "adaptive", "adaptive, digits"),
    "adaptive-mnist1d-hard": (
        "adaptive-mnist1d-hard.json",
        "adaptive",
        "adaptive, harder mnist1d, 25% of params",
    ),
    "sglp-mnist1d": ("sglp-mnist1d.json", "sglp", "layer pruning, mnist1d"),
    "sglp-digits": ("sglp-digits.json", "sglp", "layer pruning, digits"),
    "sfp-mnist1d": ("sfp-mnist1d.json", "sfp", "SFP / CR-SFP, mnist1d"),
    "sfp-digits": ("sfp-digits.json", "sfp", "SFP / CR-SFP, digits"),
    "features-digits": ("features.json", "features-digits", "feature selection, digits"),
    "features-breast_cancer": (
        "features.json",
        "features-breast_cancer",
        "feature selection, breast_cancer",
    ),
}


def _replace(text: str, key: str, body: str) -> str:
    """``body`` between the markers of ``key``; appended under a heading when they are absent."""
    pattern = re.compile(rf"(<!-- {key} -->\n).*?(<!-- /{key} -->)", re.S)
    if not pattern.search(text):
        return f"{text}\n## {key}\n\n<!-- {key} -->\n{body}\n<!-- /{key} -->\n"
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def render(results: Path, doc: Path) -> None:
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    for key, (file, table, command) in SECTIONS.items():
        path = results / file
        if path.exists():
            text = _replace(text, key, table(json.loads(path.read_text()), command))
    for key, (file, extract, title) in PLOTS.items():
        path = results / file
        if not path.exists():
            continue
        figure = results / "figures" / f"accuracy-{key}.png"
        plots.plot(plots.EXTRACT[extract](json.loads(path.read_text())), figure, title)
        link = Path(os.path.relpath(figure, doc.parent)).as_posix()
        text = _replace(text, f"{key}-plot", f"![accuracy against params kept, {title}]({link})")
    if (results / "large.json").exists():
        figure = results / "figures" / "large-memory.png"
        large_tables.plot(json.loads((results / "large.json").read_text()), figure)
        link = Path(os.path.relpath(figure, doc.parent)).as_posix()
        text = _replace(text, "large-plot", f"![peak memory against model size]({link})")
    text = _replace(text, "anchors", distances(results))
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    print(f"rendered {doc}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    render(args.results, args.doc)


if __name__ == "__main__":
    main()
