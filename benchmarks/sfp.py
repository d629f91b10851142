"""SFP against CR-SFP, trained from scratch (issue 7, item 5).

    .venv/bin/python benchmarks/sfp.py --dataset mnist1d [--seeds 3] [--epochs 30]
    .venv/bin/python benchmarks/sfp.py --dataset digits

Models: SmallResNet 1-D, 8 blocks of 64 channels (mnist1d); 2-D, 8 blocks of 32 (digits).
Every convolution group is masked, the coupled residual stream included. Per seed and prune
rate (0.3, 0.5): the unpruned network trained the same way (SGD, cosine, same epochs), SFP as
in the papers' code (raw filter norms, ``fold_norms=False``: the anchor), prunekit's SFP and
CR-SFP (filters scored with their batch norm folded in); test accuracy of the exported P-NN,
its MACs, and the R-NN/P-NN gap per epoch.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

import prunekit as pk
from machine import machine
from prunekit.train import accuracy

RESULTS = Path(__file__).parent / "results"


def build(dataset: str, seed: int) -> tuple[torch.nn.Module, Any]:
    torch.manual_seed(seed)
    if dataset == "mnist1d":
        model = pk.zoo.model("small_resnet", dims=1, blocks=8, width=64)
        return model, torch.randn(2, 1, 40)
    model = pk.zoo.model("small_resnet", dims=2, blocks=8, width=32)
    return model, torch.randn(2, 1, 8, 8)


def run(dataset: str, seeds: int, epochs: int, rates: list[float]) -> dict[str, Any]:
    rows = []
    for seed in range(seeds):
        data = pk.zoo.dataset(dataset, seed=seed)
        train = data.loader("train", batch_size=128)
        test = data.loader("test", batch_size=500)
        for rate in [0.0, *rates]:
            kinds = (
                [("unpruned", pk.SFPConfig, True)]
                if rate == 0.0
                else [
                    ("sfp-paper", pk.SFPConfig, False),
                    ("sfp", pk.SFPConfig, True),
                    ("crsfp", pk.CRSFPConfig, True),
                ]
            )
            for name, cls, fold in kinds:
                model, example = build(dataset, seed)
                config = cls(rate=rate, epochs=epochs, lr=0.05, seed=seed, fold_norms=fold)
                start = time.perf_counter()
                result = pk.prune(
                    model, config, example_inputs=example, train_data=train, val_data=test
                )
                row = {
                    "seed": seed,
                    "rate": rate,
                    "method": name,
                    "accuracy": accuracy(result.model, test),
                    "masked_accuracy": result.details["masked_accuracy"],
                    "macs_kept": result.after.macs / result.before.macs,
                    "params_kept": result.after.params / result.before.params,
                    "history": result.details["history"],
                    "seconds": time.perf_counter() - start,
                }
                rows.append(row)
                gaps = [round(100 * h["gap"], 1) for h in row["history"][-5:]]
                print(
                    f"[{dataset} seed {seed} rate {rate}] {name:9s} acc {row['accuracy']:.4f} "
                    f"MACs kept {row['macs_kept']:.3f} last gaps {gaps}",
                    flush=True,
                )
    setting = {
        "dataset": dataset,
        "epochs": epochs,
        "seeds": seeds,
        "rates": rates,
        "optimizer": "SGD nesterov lr 0.05 cosine, wd 5e-4, batch 128",
    }
    return {"setting": setting, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("mnist1d", "digits"), required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.3, 0.5])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(2)
    result = run(args.dataset, args.seeds, args.epochs, args.rates)
    result["machine"] = machine(2)
    result["command"] = (
        f"python benchmarks/sfp.py --dataset {args.dataset} --seeds "
        f"{args.seeds} --epochs {args.epochs} --rates " + " ".join(map(str, args.rates))
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"sfp-{args.dataset}.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
