"""Structural-core benchmark: latency of channel-pruned models at 2x fewer MACs, and the time
of dependency analysis for every torchvision classification model and every timm model of the
zoo tests (tests/test_zoo_timm.py), at 224 px.

    .venv/bin/python benchmarks/core.py latency  [--threads 2] [--out benchmarks/results]
    .venv/bin/python benchmarks/core.py analysis [--out benchmarks/results]

Results are written as JSON; ``render`` turns them into the tables of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torchvision

import prunekit as pk
from machine import machine
from prunekit.core.analysis.graph import ChannelGraph

LATENCY_MODELS = ("resnet50", "mobilenet_v2", "vit_b_16")


def latency(threads: int | None, round_to: int, scope: str) -> dict[str, Any]:
    rows = []
    for name in LATENCY_MODELS:
        model = pk.zoo.model(name).eval()
        trace = torch.randn(1, 3, 224, 224)
        config = pk.ChannelConfig(
            target=pk.Target(macs=0.5), importance="l2", round_to=round_to, scope=scope
        )
        start = time.perf_counter()
        result = pk.prune(model, config, example_inputs=trace)
        seconds = time.perf_counter() - start
        for batch in (1, 16):
            x = torch.randn(batch, 3, 224, 224)
            before = pk.measure(model, x, latency=True, threads=threads, min_run_time=2.0)
            after = pk.measure(result.model, x, latency=True, threads=threads, min_run_time=2.0)
            ratio = after.ratio(before)
            rows.append(
                {
                    "model": name,
                    "batch": batch,
                    "round_to": round_to,
                    "scope": scope,
                    "macs_kept": ratio.macs,
                    "params_kept": ratio.params,
                    "macs_speedup": 1 / ratio.macs,
                    "latency_speedup": ratio.speedup,
                    "dense_ms": before.latency_ms,
                    "pruned_ms": after.latency_ms,
                    "prune_seconds": seconds,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return {"machine": machine(threads), "rows": rows}


def analysis() -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.test_zoo_timm import MODELS as TIMM

    names = [*torchvision.models.list_models(module=torchvision.models)]
    names += [f"timm:{name}" for name in TIMM]
    rows = []
    for name in names:
        model = pk.zoo.model(name).eval()
        side = 299 if name == "inception_v3" else 224
        x = torch.randn(1, 3, side, side)
        start = time.perf_counter()
        graph = ChannelGraph(model, x)
        groups = graph.groups()
        seconds = time.perf_counter() - start
        rows.append(
            {
                "model": name,
                "seconds": seconds,
                "groups": len(groups),
                "skipped": len(graph.skipped),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return {"machine": machine(None), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["latency", "analysis"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--round-to", type=int, default=1)
    parser.add_argument("--scope", choices=["global", "local"], default="global")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    data = (
        latency(args.threads, args.round_to, args.scope) if args.what == "latency" else analysis()
    )
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = f"-{args.scope}-r{args.round_to}" if args.what == "latency" else ""
    path = args.out / f"core-{args.what}{suffix}.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
