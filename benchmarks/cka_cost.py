"""Cost of SGLP's CKA pass (issue 5, item 9): time and peak memory against the number of
samples and of layer units.

    .venv/bin/python benchmarks/cka_cost.py [--out benchmarks/results]

Each point runs in a fresh process: a SmallResNet (1-D, width 48, length-40 inputs) with
``blocks`` units, random inputs in batches of 100; peak memory is the process's maximum
resident set size after the pass minus the same after one warm-up batch (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from machine import machine

RESULTS = Path(__file__).parent / "results"
POINT = r"""
import resource, sys, time, torch, prunekit as pk
from prunekit.core.analysis.units import find_units
from prunekit.methods.sglp.method import cka_matrix
torch.set_num_threads(2)
blocks, samples = int(sys.argv[1]), int(sys.argv[2])
model = pk.zoo.model("small_resnet", dims=1, blocks=blocks, width=48).eval()
g = torch.Generator().manual_seed(0)
batches = [(torch.randn(100, 1, 40, generator=g), None) for _ in range(samples // 100)]
units = find_units(model, batches[0][0][:2])
cka_matrix(model, units, batches[:1], 1, "unbiased")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
cka_matrix(model, units, batches, len(batches), "unbiased")
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(units), seconds, (peak - base) / 1024)
"""


def point(blocks: int, samples: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", POINT, str(blocks), str(samples)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    units, seconds, megabytes = int(out[0]), float(out[1]), float(out[2])
    return {
        "blocks": blocks,
        "units": units,
        "samples": samples,
        "seconds": seconds,
        "peak_extra_mb": megabytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = [point(16, n) for n in (500, 1000, 2000, 4000)]
    rows += [point(b, 1000) for b in (8, 32, 64)]
    for row in rows:
        print(row, flush=True)
    result = {
        "command": "python benchmarks/cka_cost.py",
        "rows": rows,
        "machine": machine(2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sglp-cka-cost.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
