"""Markdown tables of the method benchmarks (SGLP, feature selection, SFP), for render.py."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any


def _ms(values: Iterable[float], scale: float = 100.0) -> str:
    v = [scale * x for x in values]
    if not v:
        return "-"
    std = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.2f} ± {std:.2f}"


def group_rows(rows: list[dict[str, Any]], *keys: str) -> dict[tuple, list[dict[str, Any]]]:
    out: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(tuple(row[k] for k in keys), []).append(row)
    return out


def _head(data: dict[str, Any], command: str) -> str:
    parts = [f"Command: `{data.get('command', command)}`."]
    setting = ", ".join(f"{k} {v}" for k, v in data.get("setting", {}).items())
    if setting:
        parts.append(f"Setting: {setting}.")
    machine = data.get("machine")
    if machine:
        parts.append(
            f"Machine: CPU, {machine['threads']} threads, torch {machine['torch']}, "
            f"{machine['date']}."
        )
    return " ".join(parts)


def sglp_classify(data: dict[str, Any], command: str) -> str:
    rows = data["rows"]
    dense = _ms(r["dense"] for r in group_rows(rows, "seed").values() for r in r[:1])
    lines = [
        _head(data, command),
        f"Dense test accuracy: {dense}% (mean ± std over seeds). Accuracy in %, mean ± std.",
        "",
        "| blocks kept | method | no fine-tune | after fine-tune | params kept |",
        "|---|---|---|---|---|",
    ]
    for (keep, method), group in group_rows(rows, "keep", "method").items():
        lines.append(
            f"| {keep:.0%} | {method} | {_ms(r['no_finetune'] for r in group)} "
            f"| {_ms(r['finetuned'] for r in group)} "
            f"| {statistics.mean(r['params_kept'] for r in group):.3f} |"
        )
    return "\n".join(lines)


def sglp_minilm(data: dict[str, Any], command: str) -> str:
    lines = [
        _head(data, command),
        "Mean cosine similarity of sentence embeddings to the unpruned MiniLM (higher is better).",
        "",
        "| method | removed layers | mean cosine |",
        "|---|---|---|",
    ]
    for r in data["rows"]:
        lines.append(f"| {r['method']} | {', '.join(r['removed'])} | {r['cosine']:.4f} |")
    return "\n".join(lines)


def sglp_lm(data: dict[str, Any], command: str) -> str:
    rows = data["rows"]
    dense = statistics.mean(r["dense"] for r in rows)
    lines = [
        _head(data, command),
        f"Dense test perplexity: {dense:.1f}. Perplexity (lower is better), mean ± std.",
        "",
        "| layers removed | method | no healing | after healing |",
        "|---|---|---|---|",
    ]
    for (remove, method), group in group_rows(rows, "remove", "method").items():
        lines.append(
            f"| {remove} of 8 | {method} | {_ms((r['no_finetune'] for r in group), 1.0)} "
            f"| {_ms((r['finetuned'] for r in group), 1.0)} |"
        )
    return "\n".join(lines)


def sglp_cost(data: dict[str, Any], command: str) -> str:
    lines = [
        _head(data, command),
        "",
        "| units | samples | seconds | extra peak memory (MB) |",
        "|---|---|---|---|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['units']} | {r['samples']} | {r['seconds']:.2f} | {r['peak_extra_mb']:.1f} |"
        )
    return "\n".join(lines)


def features(data: dict[str, Any], command: str) -> str:
    lines = [
        _head(data, command),
        "Test accuracy in %, mean ± std over seeds; params and MACs of the final model (the "
        "MLP; for digits-conv the ConvNet, features kept = 2x2 patches of 16).",
        "",
        "| task | features kept | method | accuracy | params | MACs |",
        "|---|---|---|---|---|---|",
    ]
    for r in data["table"]:
        lines.append(
            f"| {r['task']} | {r['keep']} | {r['method']} | {r['accuracy_mean']:.2f} ± "
            f"{r['accuracy_std']:.2f} | {r['params']:,.0f} | {r['macs']:,.0f} |"
        )
    return "\n".join(lines)


def sfp(data: dict[str, Any], command: str) -> str:
    lines = [
        _head(data, command),
        "Test accuracy of the exported (physically pruned) network in %, mean ± std; the gap is "
        "R-NN minus P-NN accuracy averaged over the last 5 epochs, in points.",
        "",
        "| prune rate | method | exported accuracy | masked accuracy | MACs kept | R/P gap |",
        "|---|---|---|---|---|---|",
    ]
    for (rate, method), group in group_rows(data["rows"], "rate", "method").items():
        gaps = [statistics.mean(h["gap"] for h in r["history"][-5:]) for r in group]
        lines.append(
            f"| {rate} | {method} | {_ms(r['accuracy'] for r in group)} "
            f"| {_ms(r['masked_accuracy'] for r in group)} "
            f"| {statistics.mean(r['macs_kept'] for r in group):.3f} | {_ms(gaps)} |"
        )
    return "\n".join(lines)


def adaptive(data: dict[str, Any], command: str) -> str:
    rows = data["rows"]
    dense = _ms(r["dense"] for r in group_rows(rows, "seed").values() for r in r[:1])
    lines = [
        _head(data, command),
        f"Dense test accuracy: {dense}%. Test accuracy in %, mean ± std over seeds; params and "
        "MACs kept relative to the dense model; the split is the share of the dense model's "
        "parameters removed as whole layers / as channels.",
        "",
        "| method | no fine-tune | accuracy | vs dense (points) | params kept | MACs kept "
        "| layers removed | channels removed | split layers / channels |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (method,), group in group_rows(rows, "method").items():
        gap = [r["accuracy"] - r["dense"] for r in group]
        split = "-"
        if group[0]["by_layers"] is not None:
            by_l = statistics.mean(r["by_layers"] for r in group)
            by_c = statistics.mean(r["by_channels"] for r in group)
            split = f"{by_l:.1%} / {by_c:.1%}"
        before = _ms(r["no_finetune"] for r in group if "no_finetune" in r)
        lines.append(
            f"| {method} | {before} | {_ms(r['accuracy'] for r in group)} | {_ms(gap)} "
            f"| {statistics.mean(r['params_kept'] for r in group):.3f} "
            f"| {statistics.mean(r['macs_kept'] for r in group):.3f} "
            f"| {statistics.mean(r['layers_removed'] for r in group):.1f} "
            f"| {statistics.mean(r['channels_removed'] for r in group):.0f} | {split} |"
        )
    return "\n".join(lines)


def basis(data: dict[str, Any], command: str) -> str:
    rows = data["rows"]
    dense = [r for r in rows if r["method"] == "dense"]
    lines = [
        _head(data, command),
        f"Dense test accuracy: {_ms(r['accuracy'] for r in dense)}% "
        f"({len(dense)} seeds), latency {statistics.mean(r['latency_ms'] for r in dense):.2f} ms. "
        "Accuracy in %, mean ± std over seeds; params and MACs kept relative to the dense "
        "model; latency: median, CPU, batch 1, 1 thread.",
        "",
        "| target | method | seeds | params kept | MACs kept | latency ms | no fine-tune "
        "| after fine-tune | vs dense (points) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_seed = {r["seed"]: r["accuracy"] for r in dense}
    pruned = [r for r in rows if "keep" in r]
    for (keep, method), group in group_rows(pruned, "keep", "method").items():
        done = [r for r in group if "accuracy" in r]
        if not done:
            lines.append(f"| {keep} | {method} | {len(group)} | unreachable | | | | | |")
            continue
        gap = [r["accuracy"] - by_seed[r["seed"]] for r in done if r["seed"] in by_seed]
        lines.append(
            f"| {keep} | {method} | {len(done)} "
            f"| {statistics.mean(r['params_kept'] for r in done):.4f} "
            f"| {statistics.mean(r['macs_kept'] for r in done):.3f} "
            f"| {statistics.mean(r['latency_ms'] for r in done):.2f} "
            f"| {_ms(r['before_finetune'] for r in done)} | {_ms(r['accuracy'] for r in done)} "
            f"| {_ms(gap)} |"
        )
    return "\n".join(lines)


def scaling(data: dict[str, Any], command: str) -> str:
    """One row per model, a pair of columns (seconds, extra MB) per method in the file."""
    names = {"core": "core", "core-inplace": "core, inplace", "sglp": "SGLP"}
    methods = [m for m in names if any(r["method"] == m for r in data["rows"])]
    per_param = [m for m in methods if m.startswith("core")]
    head = ["model", "params"]
    for m in methods:
        head += [f"{names[m]}: seconds", f"{names[m]}: extra MB"]
        head += [f"{names[m]}: bytes/param"] if m in per_param else []
    lines = [
        _head(data, command),
        "Random weights; wall-clock seconds of the `pk.prune` call and the extra peak resident "
        "memory it needed (MB; bytes/param: the same over the model's parameter count).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for (model,), group in group_rows(data["rows"], "model").items():
        cells = {r["method"]: r for r in group}
        params = next((r["params"] for r in group if "params" in r), 0)
        row = [model, f"{params:,}"]
        for method in methods:
            r = cells.get(method, {})
            empty = [""] if method in per_param else []
            if "seconds" not in r:
                row += [r.get("error", "-")[:60], "", *empty]
                continue
            row += [f"{r['seconds']:.1f}", f"{r['peak_extra_mb']:.0f}"]
            if method in per_param:
                row.append(f"{r['peak_extra_mb'] * 2**20 / r['params']:.1f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
