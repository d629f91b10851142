"""Latency as a target: dense, prunekit Target(macs=0.5), prunekit Target(latency=0.5) and
Torch-Pruning 1.6.1 at the same MACs (global L2, round_to=8), timed in one interleaved run per
model, batch and thread count (224 px, float32, CPU, random weights except EfficientNet-Lite0's).

    .venv/bin/python benchmarks/latency.py [--models resnet50 mobilenet_v2 ...]
        [--batches 1 16] [--threads 1 2] [--rounds 7] [--out benchmarks/results/latency.json]

The layer tables are built in a fresh cache folder, so the reported build time is the cold one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

import prunekit as pk
from anchors import torch_pruning
from machine import machine
from prunekit.core.budget.metrics import count_macs
from prunekit.latency.compare import MIN_RUN_TIME, ROUNDS, interleaved, spread

HEADS = {
    "resnet50": "fc",
    "mobilenet_v2": "classifier.1",
    "vit_b_16": "heads.head",
    "efficientnet_lite0": "classifier",
    "convnext_tiny": "classifier.2",
}


def _prune(model: nn.Module, config: pk.ChannelConfig, x: torch.Tensor) -> tuple[Any, float]:
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pk.prune(model, config, x)
    result.details["warnings"] = [str(w.message) for w in caught]
    return result, time.perf_counter() - start


def _anchor(model: nn.Module, name: str, keep: float) -> nn.Module | None:
    x = torch.randn(1, 3, 224, 224)
    try:
        return torch_pruning(
            model,
            x,
            [],
            keep,
            "l2",
            HEADS[name],
            count=lambda m: count_macs(m, x),
            round_to=8,
        ).eval()
    except Exception as exc:
        print(f"{name}: Torch-Pruning failed: {type(exc).__name__}: {exc}", flush=True)
        return None


def cell(
    name: str,
    model: nn.Module,
    by_macs: Any,
    anchor: nn.Module | None,
    batch: int,
    threads: int,
    rounds: int,
) -> dict[str, Any]:
    x = torch.randn(batch, 3, 224, 224)
    config = pk.ChannelConfig(target=pk.Target(latency=0.5), latency_threads=threads)
    by_latency, seconds = _prune(model, config, x)
    runs = {"dense": model, "macs": by_macs.model, "latency": by_latency.model}
    if anchor is not None:
        runs["torch_pruning"] = anchor
    times = interleaved([(m, x) for m in runs.values()], threads, rounds)
    medians = dict(zip(runs, (statistics.median(t) for t in times), strict=True))
    dense_macs = count_macs(model, x)
    timed = by_latency.details["latency"]
    row = {
        "model": name,
        "batch": batch,
        "threads": threads,
        "dense_ms": medians["dense"],
        "dense_iqr_ms": spread(times[0]),
        "target_met": timed["met"],
        "check_measured": timed["measured"],
        "check_noise": timed["noise"],
        "predicted": timed["predicted"],
        "prediction_error": timed["prediction_error"],
        "attempts": len(timed["attempts"]),
        "table_build_seconds": timed["table"]["build_seconds"],
        "table_layers_measured": timed["table"]["measured"],
        "prune_seconds": seconds,
        "warnings": by_latency.details["warnings"],
    }
    for key, pruned in runs.items():
        if key == "dense":
            continue
        row[f"{key}_speedup"] = medians["dense"] / medians[key]
        row[f"{key}_macs_kept"] = count_macs(pruned, x) / dense_macs
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(HEADS), choices=list(HEADS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/latency.json"))
    args = parser.parse_args()
    os.environ["PRUNEKIT_CACHE"] = tempfile.mkdtemp(prefix="prunekit-latency-")
    rows = []
    for name in args.models:
        model = pk.zoo.model(name).eval()
        x = torch.randn(1, 3, 224, 224)
        by_macs, _ = _prune(model, pk.ChannelConfig(target=pk.Target(macs=0.5)), x)
        keep = by_macs.after.macs / by_macs.before.macs
        anchor = _anchor(model, name, keep)
        for batch in args.batches:
            for threads in args.threads:
                rows.append(cell(name, model, by_macs, anchor, batch, threads, args.rounds))
                args.out.write_text(
                    json.dumps(
                        {
                            "machine": machine(),
                            "rounds": args.rounds,
                            "min_run_time": MIN_RUN_TIME,
                            "rows": rows,
                        },
                        indent=1,
                    )
                    + "\n"
                )


if __name__ == "__main__":
    main()
