"""Render benchmark JSON results into docs/benchmarks.md (between generated markers).

.venv/bin/python benchmarks/render.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import method_tables as tables

RESULTS = Path("benchmarks/results")
DOC = Path("docs/benchmarks.md")


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


def core_analysis(data: dict[str, Any], command: str) -> str:
    rows = sorted(data["rows"], key=lambda r: -r["seconds"])
    worst = rows[0]
    lines = [
        f"Command: `{command}`. {_machine(data)} Time of `ChannelGraph(model, x).groups()` at "
        f"1x3x224x224 (299 for inception_v3). Slowest: {worst['model']} "
        f"{worst['seconds']:.2f} s; every model: under {max(r['seconds'] for r in rows):.2f} s.",
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
    "adaptive-sweep-mnist1d": ("adaptive-sweep-mnist1d.json", tables.adaptive, ""),
}


def main() -> None:
    text = DOC.read_text()
    for key, (file, render, command) in SECTIONS.items():
        path = RESULTS / file
        if not path.exists():
            continue
        body = render(json.loads(path.read_text()), command)
        pattern = re.compile(rf"(<!-- {key} -->\n).*?(\n<!-- /{key} -->)", re.S)
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    DOC.write_text(text)
    print(f"rendered {DOC}")


if __name__ == "__main__":
    main()
