"""The large-model table and plot (benchmarks/large.py's results), for render.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

GOAL_7B_MB = 3 * 1024


def table(data: dict[str, Any], command: str) -> str:
    m = data["machine"]
    lines = [
        f"Command: `{data.get('command', command)}`. Machine: CPU, {m['threads']} threads, "
        f"torch {m['torch']}, prunekit {m['prunekit']}, {m['date']}.",
        "",
        "Random-weight LLaMA-architecture checkpoints (bfloat16 on disk, float32 compute). "
        "prunekit: `prunekit llm DIR --method block_influence --target layers=0.75 --samples 8 "
        "--heldout 4 --seq-len 128 --batch-size 8`, the whole command (one layer-sequential "
        "pass scoring Block Influence, angular distance, CKA and width importance; the pruned "
        "checkpoint written and its shapes checked against its config; its perplexity measured "
        "again from the written files). ShortGPT-style anchor: `from_pretrained` in float32 and "
        "one forward of the same 8 x 128 tokens with `output_hidden_states=True`; where it was "
        "not run, the float32 weights it would have to hold. Peak memory is the process's "
        "maximum resident set size (including about 0.5 GB for Python and torch).",
        "",
        "| model | layers | hidden | params | on disk | prunekit: peak memory | prunekit: "
        "seconds (scoring) | ShortGPT-style: peak memory | ShortGPT-style: seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["rows"]:
        ours, anchor = r["prunekit"], r["shortgpt"]
        if "peak_mb" in ours:
            mine = [f"{ours['peak_mb'] / 1024:.2f} GB",
                    f"{ours['seconds']:.0f} ({ours['scoring_seconds']:.0f})"]  # fmt: skip
        else:
            mine = [ours.get("error", "-")[:60], ""]
        if "peak_mb" in anchor:
            theirs = [f"{anchor['peak_mb'] / 1024:.2f} GB", f"{anchor['seconds']:.0f}"]
        elif "needs_mb" in anchor:
            theirs = [f"needs > {anchor['needs_mb'] / 1024:.1f} GB (weights)", ""]
        else:
            theirs = [anchor.get("error", "-")[:60], ""]
        cells = [r["model"], str(r["layers"]), str(r["hidden"]), f"{r['params'] / 1e9:.2f} B",
                 f"{r['disk_gb']:.1f} GB", *mine, *theirs]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(data: dict[str, Any], path: Path) -> None:
    """Peak memory against parameters: the size sweep and the depth sweep, ours and anchor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for sweep, marker in (("size", "o"), ("depth", "s")):
        rows = [r for r in data["rows"] if r.get("sweep") == sweep and "peak_mb" in r["prunekit"]]
        rows.sort(key=lambda r: r["params"])
        ax.plot([r["params"] / 1e9 for r in rows], [r["prunekit"]["peak_mb"] / 1024 for r in rows],
                marker=marker, label=f"prunekit llm ({sweep} sweep)")  # fmt: skip
    anchor = [r for r in data["rows"] if "peak_mb" in r["shortgpt"] or "needs_mb" in r["shortgpt"]]
    anchor = [r for r in anchor if r.get("sweep") == "size"]
    needed = [r["shortgpt"].get("peak_mb", r["shortgpt"].get("needs_mb", 0)) for r in anchor]
    ax.plot(
        [r["params"] / 1e9 for r in anchor],
        [mb / 1024 for mb in needed],
        marker="x",
        linestyle="--",
        label="ShortGPT-style whole model (7B: weights only)",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (billions)")
    ax.set_ylabel("peak resident memory (GB)")
    ax.set_title("Layer-by-layer pruning: memory against model size", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
