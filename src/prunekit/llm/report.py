"""The report beside a pruned checkpoint: prunekit-llm.md and the CKA heatmap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prunekit.report.figures import cka_heatmap

REPORT = "prunekit-llm.json"
MARKDOWN = "prunekit-llm.md"
HEATMAP = "prunekit-llm-cka.png"


def write_llm_report(out: Path, report: dict[str, Any]) -> Path:
    segmentation = report["segmentation"]
    figure = {
        "cka": segmentation["cka"],
        "segments": [list(range(a, b + 1)) for a, b in segmentation["segments"]],
    }
    (out / HEATMAP).write_bytes(
        cka_heatmap(figure, "CKA between decoder layer outputs (lines: SGLP segments)")
    )
    options, ppl = report["options"], report["perplexity"]
    params, layers = report["params"], report["layers"]
    kept = set(report["plan"]["layers"])
    angular = report["scores"]["angular"]
    run = report["scores"]["run_length"]
    lines = [
        f"# prunekit llm: {report['model']}",
        "",
        f"Method `{options['method']}`, target `{options['target']}`; calibration "
        f"`{options['calibration']}`: {options['samples']} sequences of {options['seq_len']} "
        f"tokens ({report['tokenizer']} tokenizer), compute {options['dtype']} on "
        f"{options['device']}.",
        "",
        "| | before | after |",
        "|---|---:|---:|",
        f"| decoder layers | {layers['before']} | {layers['after']} |",
        f"| parameters | {params['before']:,} | {params['after']:,} "
        f"({params['after'] / params['before']:.1%}) |",
        f"| perplexity ({ppl['heldout_sequences']} held-out sequences) | {ppl['before']:.3f} | "
        f"{ppl['after']:.3f} |",
        *(
            [
                f"| perplexity after {len(report['healing']['loss'])} healing steps | | "
                f"{ppl['after_healing']:.3f} |"
            ]
            if "after_healing" in ppl
            else []
        ),
        "",
        "Perplexity after is measured on the written checkpoint. Peak resident memory "
        f"{report['peak_memory_bytes'] / 2**30:.2f} GiB; time {report['seconds']['total']:.1f} s "
        f"(scoring {report['seconds']['scoring']:.1f} s).",
        "",
        "| layer | Block Influence | angular distance of the run starting here | kept |",
        "|---:|---:|---:|:---:|",
    ]
    for i, value in enumerate(report["scores"]["block_influence"]):
        distance = f"{angular[i]:.4f} ({run} layers)" if i < len(angular) else ""
        lines.append(f"| {i} | {value:.4f} | {distance} | {'yes' if i in kept else 'no'} |")
    lines += ["", f"![CKA]({HEATMAP})", ""]
    path = out / MARKDOWN
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
