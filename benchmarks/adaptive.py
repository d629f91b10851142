"""Adaptive layer + channel pruning against channel-only and layer-only pruning (issue 6).

    .venv/bin/python benchmarks/adaptive.py --dataset mnist1d [--seeds 3]
    .venv/bin/python benchmarks/adaptive.py --dataset digits
    .venv/bin/python benchmarks/adaptive.py --dataset mnist1d --hard --keep 0.25
    .venv/bin/python benchmarks/adaptive.py --dataset mnist1d --seeds 1 --sweep

Per seed a 16-block SmallResNet is trained dense, then each method keeps at most 50% of its
parameters: adaptive (layer and channel gates), channel-only (the same sparse training with
batch-norm scales only: Network Slimming with cost weights), layer-gates-only, SGLP
(layer-only), and Torch-Pruning's global channel pruning (Taylor, L2) as anchors. Every method
gets the same training after the dense model: the gated methods train sparse for --sparse
epochs and fine-tune for --finetune; SGLP and Torch-Pruning (no sparse phase) fine-tune for
--sparse + --finetune epochs. Test accuracy before and after that fine-tune, the learned
layer/channel split, params and MACs relative to the dense model go to
benchmarks/results/adaptive-DATASET.json. --hard: the harder variant of the task (fewer
samples and more generator noise for mnist1d, fewer training images for digits; stated in the
JSON), written to adaptive-DATASET-hard.json.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch

import prunekit as pk
from anchors import torch_pruning
from machine import machine
from prunekit.train import accuracy, fit
from tasks import fresh_resnet, options

RESULTS = Path(__file__).parent / "results"


def configs(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    target = pk.Target(params=args.keep)
    gated = {
        "target": target,
        "penalty": args.penalty,
        "sparse_epochs": args.sparse,
        "finetune_epochs": args.finetune,
        "seed": seed,
    }
    return {
        "adaptive": pk.AdaptiveConfig(**gated),
        "channel_only": pk.AdaptiveConfig(**gated, layers=False),
        "layer_gates_only": pk.AdaptiveConfig(**gated, channels=False),
        "sglp": pk.SGLPConfig(target=target, seed=seed),
    }


def sweep(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """The choices of docs/methods/adaptive.md: penalty, ranking and the gates' learning rate."""
    base = {
        "target": pk.Target(params=args.keep),
        "sparse_epochs": args.sparse,
        "finetune_epochs": args.finetune,
        "seed": seed,
    }
    return {
        "penalty 0.05": pk.AdaptiveConfig(**base, penalty=0.05),
        "penalty 0.5 (default)": pk.AdaptiveConfig(**base, penalty=0.5),
        "penalty 2.0": pk.AdaptiveConfig(**base, penalty=2.0),
        "penalty 0.5, per_cost": pk.AdaptiveConfig(**base, penalty=0.5, ranking="per_cost"),
        "penalty 0.5, gate_lr 1e-3": pk.AdaptiveConfig(**base, penalty=0.5, gate_lr=1e-3),
        "no sparse training": pk.AdaptiveConfig(
            **{**base, "sparse_epochs": 0, "finetune_epochs": args.sparse + args.finetune}
        ),
    }


def _pruned(
    model: torch.nn.Module,
    config: Any,
    example: torch.Tensor,
    data: Any,
    args: argparse.Namespace,
    seed: int,
) -> tuple[torch.nn.Module, dict[str, Any], float]:
    """The pruned model, its details and its test accuracy before fine-tuning. The gated
    methods' own fine-tune is run here instead of inside pk.prune (same epochs, lr and seed) so
    the accuracy in between can be measured; methods without a training phase of their own
    (SGLP, Torch-Pruning) fine-tune for the sparse + fine-tune epochs the gated methods get."""
    train = data.loader("train", batch_size=64)
    epochs, lr = args.sparse + args.finetune, 1e-3
    if isinstance(config, str):
        pruned = torch_pruning(model, example, train, args.keep, config, "head")
        details: dict[str, Any] = {}
    else:
        if isinstance(config, pk.AdaptiveConfig):
            epochs, lr = config.finetune_epochs, config.finetune_lr
            config = dataclasses.replace(config, finetune_epochs=0)
        result = pk.prune(model, config, example_inputs=example, train_data=train)
        pruned, details = copy.deepcopy(result.model), result.details
    before = accuracy(pruned, data.loader("test", batch_size=256))
    if epochs:
        fit(pruned, train, epochs=epochs, lr=lr, seed=seed)
    return pruned, details, before


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for seed in range(args.seeds):
        data = pk.zoo.dataset(args.dataset, seed=seed, **options(args.dataset, args.hard))
        model = fresh_resnet(args.dataset, seed)
        train = data.loader("train", batch_size=64)
        test = data.loader("test", batch_size=256)
        fit(model, train, epochs=args.epochs, lr=3e-3, seed=seed)
        dense = accuracy(model, test)
        print(f"[{args.dataset} seed {seed}] dense {dense:.4f}", flush=True)
        example = next(iter(test))[0][:2]
        dense_metrics = pk.measure(model, example)
        methods = (sweep if args.sweep else configs)(args, seed)
        if not args.sweep:
            methods |= {"tp-taylor": "taylor", "tp-l2": "l2"}  # Torch-Pruning's anchors
        for name, config in methods.items():
            start = time.perf_counter()
            pruned, details, before = _pruned(model, config, example, data, args, seed)
            metrics = pk.measure(pruned, example)
            row = {
                "seed": seed,
                "method": name,
                "dense": dense,
                "accuracy": accuracy(pruned, test),
                "no_finetune": before,
                "params_kept": metrics.params / dense_metrics.params,
                "macs_kept": metrics.macs / dense_metrics.macs,
                "layers_removed": len(details.get("layers_removed", details.get("removed", []))),
                "channels_removed": details.get("channels_removed", 0),
                "by_layers": details.get("params_removed_by_layers"),
                "by_channels": details.get("params_removed_by_channels"),
                "seconds": time.perf_counter() - start,
            }
            rows.append(row)
            print(
                f"  {name:16s} acc {before:.4f} -> {row['accuracy']:.4f} "
                f"params {row['params_kept']:.3f} layers -{row['layers_removed']} "
                f"channels -{row['channels_removed']}",
                flush=True,
            )
    setting = {
        "dataset": args.dataset,
        "hard": options(args.dataset, args.hard) or None,
        "keep_params": args.keep,
        "dense_epochs": args.epochs,
        "sparse_epochs": args.sparse,
        "finetune_epochs": args.finetune,
        "penalty": args.penalty,
        "seeds": args.seeds,
        "sweep": args.sweep,
    }
    return {"setting": setting, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("mnist1d", "digits"), required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--sparse", type=int, default=4)
    parser.add_argument("--finetune", type=int, default=2)
    parser.add_argument("--penalty", type=float, default=pk.AdaptiveConfig.penalty)
    parser.add_argument("--keep", type=float, default=0.5)
    parser.add_argument("--hard", action="store_true", help="the harder variant of the task")
    parser.add_argument("--sweep", action="store_true", help="the design-choice sweep")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(2)
    result = run(args)
    result["command"] = (
        f"python benchmarks/adaptive.py --dataset {args.dataset} --seeds {args.seeds} "
        f"--epochs {args.epochs} --sparse {args.sparse} --finetune {args.finetune} "
        f"--penalty {args.penalty} --keep {args.keep}{' --sweep' if args.sweep else ''}"
        f"{' --hard' if args.hard else ''}"
    )
    result["machine"] = machine(2)
    args.out.mkdir(parents=True, exist_ok=True)
    sweep, hard = "sweep-" if args.sweep else "", "-hard" if args.hard else ""
    name = f"adaptive-{sweep}{args.dataset}{hard}.json"
    (args.out / name).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
