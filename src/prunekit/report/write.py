"""``prunekit report DIR`` and ``prunekit compare DIR...``: from a run's summary and per-seed
state to ``report.md`` (figures as PNG files next to it) and a self-contained ``report.html``."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from prunekit.errors import ConfigError
from prunekit.io.atomic import write_text
from prunekit.report.figures import method_figures, widths


def _read(run: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    summary_path = run / "summary.json"
    if not summary_path.is_file():
        raise ConfigError(
            f"{run} holds no finished run (no summary.json); fix: prunekit run RECIPE --out {run}"
        )
    summary = json.loads(summary_path.read_text())
    if "inputs" not in summary.get("macs", {}):
        raise ConfigError(
            f"{summary_path} was written by an older prunekit, whose MACs before and after "
            f"could come from different batch sizes; fix: prunekit run RECIPE --out {run} "
            "(finished stages are kept; the summary is measured again)"
        )
    first = summary["seeds"][0]
    state = json.loads((run / f"seed-{first}" / "state.json").read_text())
    return summary, state


def _pm(stats: dict[str, float], scale: float = 100.0, digits: int = 2) -> str:
    text = f"{scale * stats['mean']:.{digits}f}"
    return text + (f" ± {scale * stats['std']:.{digits}f}" if stats["n"] > 1 else "")


def _removed(counts: dict[str, int]) -> str:
    return f"{1 - counts['after'] / counts['before']:.1%}"


def _after(counts: dict[str, Any]) -> str:
    """The first seed's count, and every seed's where they differ."""
    seeds = counts.get("per_seed") or [counts["after"]]
    text = f"{counts['after']:,}"
    if len(set(seeds)) > 1:
        text += f" (seed 1 of {len(seeds)}; each: {', '.join(f'{v:,}' for v in seeds)})"
    return text


def _inputs(macs: dict[str, Any]) -> str:
    """The inputs both MAC counts were measured on (a feature-pruned model reads fewer)."""
    inputs = macs["inputs"]
    text = f"batch {macs['batch']}, inputs {inputs['before']}"
    if inputs["after"] != inputs["before"]:
        text += f" -> {inputs['after']}"
    return text


def headline(summary: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows (what, before, after, change) of the headline table."""
    p, m, lat, acc = summary["params"], summary["macs"], summary["latency_ms"], summary["accuracy"]
    n = acc["dense"]["n"]
    return [
        ("params", f"{p['before']:,}", _after(p), f"{_removed(p)} removed"),
        (f"MACs ({_inputs(m)})", f"{m['before']:,}", _after(m), f"{_removed(m)} removed"),
        (
            f"latency, ms (median, interleaved; batch {lat['batch']}, {lat['threads']} thread(s), "
            f"{lat['device']}, {lat['dtype']})",
            _pm(lat["before"], 1.0, 3),
            _pm(lat["after"], 1.0, 3),
            f"{lat['before']['mean'] / lat['after']['mean']:.2f}x speed-up",
        ),
        (
            f"test accuracy, % ({n} seed{'s' if n > 1 else ''}; after: fine-tuned)",
            _pm(acc["dense"]),
            _pm(acc["finetuned"]),
            f"{100 * (acc['finetuned']['mean'] - acc['dense']['mean']):+.2f} points "
            f"(before fine-tuning {_pm(acc['pruned'])})",
        ),
    ]


def _figures(state: dict[str, Any]) -> list[tuple[str, bytes]]:
    prune = state["prune"]
    return [("Width per layer", widths(prune["layers"])), *method_figures(prune["details"])]


def _plan_rows(state: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    def shape(value: list[int] | None) -> str:
        return "removed" if value is None else "x".join(map(str, value))

    return [
        (r["path"], r["type"], shape(r["before"]) if r["before"] else "new", shape(r["after"]))
        for r in state["prune"]["layers"]
    ]


def _title(summary: dict[str, Any]) -> str:
    recipe = summary["recipe"]
    return f"{summary['method']} on {recipe['model']['name']} / {recipe['data']['name']}"


def write_report(run: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` (+ ``figures/*.png``) and ``report.html`` into the run directory."""
    root = Path(run)
    summary, state = _read(root)
    figures = _figures(state)
    (root / "figures").mkdir(exist_ok=True)
    names = []
    for i, (title, png) in enumerate(figures):
        name = f"figures/{i:02d}-{title.lower().replace(' ', '-').replace('/', '-')}.png"
        (root / name).write_bytes(png)
        names.append(name)
    rows = headline(summary)
    command = f"prunekit report {root}"
    md = [f"# prunekit run: {_title(summary)}", "", f"Regenerate: `{command}`.", ""]
    md += ["| | before | after | change |", "|---|---|---|---|"]
    md += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    md += [""]
    md += [f"![{title}]({name})\n" for (title, _), name in zip(figures, names, strict=True)]
    md += ["## Plan: layer shapes", "", "| layer | type | before | after |", "|---|---|---|---|"]
    md += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _plan_rows(state)]
    md_path = root / "report.md"
    write_text(md_path, "\n".join(md) + "\n")
    html_path = root / "report.html"
    write_text(html_path, _html(summary, rows, figures, _plan_rows(state), command))
    return md_path, html_path


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(
    summary: dict[str, Any],
    rows: list[tuple[str, str, str, str]],
    figures: list[tuple[str, bytes]],
    plan: list[tuple[str, str, str, str]],
    command: str,
) -> str:
    images = "".join(
        f'<figure><img alt="{html.escape(t)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"><figcaption>{html.escape(t)}</figcaption></figure>'
        for t, png in figures
    )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left}figure{display:inline-block;margin:0.5em}img{max-width:100%}"
        "code{background:#f4f4f4;padding:1px 4px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>prunekit run: "
        f"{html.escape(_title(summary))}</title><style>{style}</style></head><body>"
        f"<h1>prunekit run: {html.escape(_title(summary))}</h1>"
        f"<p>Regenerate: <code>{html.escape(command)}</code></p>"
        f"{_table(('', 'before', 'after', 'change'), rows)}"
        f"<h2>Figures</h2>{images}"
        f"<h2>Plan: layer shapes</h2>{_table(('layer', 'type', 'before', 'after'), plan)}"
        "</body></html>\n"
    )


def compare_runs(runs: list[str | Path]) -> str:
    """A markdown table of runs side by side."""
    if not runs:
        raise ConfigError("prunekit compare needs at least one run directory")
    lines = [
        "| run | method | params removed | MACs removed | accuracy dense -> fine-tuned (%) "
        "| latency ms before -> after |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        summary, _ = _read(Path(run))
        p, m, acc, lat = (
            summary["params"],
            summary["macs"],
            summary["accuracy"],
            summary["latency_ms"],
        )
        lines.append(
            f"| {run} | {summary['method']} | {_removed(p)} "
            f"| {_removed(m)} ({_inputs(m)}) | {_pm(acc['dense'])} -> "
            f"{_pm(acc['finetuned'])} | {_pm(lat['before'], 1.0, 3)} -> "
            f"{_pm(lat['after'], 1.0, 3)} |"
        )
    return "\n".join(lines)
