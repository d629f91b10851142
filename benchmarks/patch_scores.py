"""How to score input patches: the design choice of FeatureConfig(patch=k), one command:

    .venv/bin/python benchmarks/patch_scores.py [--seeds 3] [--epochs 20]

digits as 1x8x8 images, the features benchmark's ConvNet, keep 4 of 16 2x2 patches; half the
epochs sparse training, half retraining the reduced model. Accuracy on a validation split
carved from the training split (20%), never the test split, for three patch scores:
|gate| x std of the patch's pixels (the library's magnitude score), |gate| x mean of its pixels
(digits pixels are >= 0, so this is the mean |input|) and Taylor (|gate * dL/dgate|).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import torch

import prunekit as pk
from features import arrays, convnet, loader
from machine import machine
from prunekit.core.edit.input_patches import PatchGate, to_patches
from prunekit.train import accuracy, fit

RESULTS = Path(__file__).parent / "results"


def _mean_input(self: PatchGate) -> torch.Tensor:
    mean = (self.pixel_sum / max(1, self.samples)).float().unsqueeze(0)
    return to_patches(mean, self.patch).mean(dim=(0, 1, 2))


def score(variant: str, seed: int, epochs: int) -> tuple[float, list[int]]:
    ds = pk.zoo.dataset("digits", val_fraction=0.0, test_fraction=0.2, seed=seed)
    x, y = arrays(ds, "train")
    order = np.random.default_rng(100 + seed).permutation(len(x))
    train, val = order[: int(0.8 * len(x))], order[int(0.8 * len(x)) :]
    config = pk.FeatureConfig(
        target=pk.Target(features=4 / 16),
        patch=2,
        epochs=epochs // 2,
        lr=2e-3,
        seed=seed,
        criterion="taylor" if variant == "taylor" else "magnitude",
    )
    spread = PatchGate.input_spread
    if variant == "gate x mean":
        PatchGate.input_spread = _mean_input  # type: ignore[method-assign]
    try:
        result = pk.prune(
            convnet(seed),
            config,
            example_inputs=torch.zeros(2, 1, 8, 8),
            train_data=loader(x[train], y[train], seed),
        )
    finally:
        PatchGate.input_spread = spread  # type: ignore[method-assign]
    selector = pk.feature_selector(result.model)
    assert selector is not None
    batches = list(selector.batches(loader(x[train], y[train], seed)))
    fit(result.model, batches, epochs=epochs - epochs // 2, lr=2e-3, seed=seed)
    acc = accuracy(result.model, selector.batches(loader(x[val], y[val], seed, shuffle=False)))
    return acc, list(selector.keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    for variant in ("gate x std (default)", "gate x mean", "taylor"):
        for seed in range(args.seeds):
            acc, kept = score(variant, seed, args.epochs)
            rows.append({"variant": variant, "seed": seed, "accuracy": acc, "kept": kept})
            print(f"{variant:22s} seed {seed} patches {kept} val accuracy {acc:.4f}", flush=True)
    for variant in dict.fromkeys(r["variant"] for r in rows):
        accs = [100 * r["accuracy"] for r in rows if r["variant"] == variant]
        spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"{variant:22s} {statistics.mean(accs):.2f} ± {spread:.2f}")
    result = {
        "command": f"python benchmarks/patch_scores.py --seeds {args.seeds} --epochs {args.epochs}",
        "machine": machine(1),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "patch-scores.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
