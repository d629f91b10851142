"""Basis and double pruning against channel-only pruning and Torch-Pruning (issue 4).

    .venv/bin/python benchmarks/basis.py --model lite0 [--seeds 3]
    .venv/bin/python benchmarks/basis.py --model resnet18 --size 32
    .venv/bin/python benchmarks/basis.py --model resnet18 --size 32 --hard --points 0.1 0.05 0.025

Per seed a dense model is trained on digits (Lite0: the ImageNet-pretrained EfficientNet-Lite0
transferred, 3 channels at --size px; ResNet-18: torchvision's, from scratch), then every
method prunes a copy of it to each --points fraction of the dense params: basis pruning, double
pruning (Taylor channel pruning to --double-channel times the target, at most 0.7 of the
params, then basis pruning),
channel-only pruning through the core (Taylor and L2, global) and Torch-Pruning's BasePruner
(Taylor and L2, global). Every method gets the same number of training epochs after the dense
model: the basis methods train their scaling factors for --basis-epochs and fine-tune for
--finetune; the channel methods fine-tune for --basis-epochs + --finetune. Test accuracy
before and after fine-tuning, params and MACs relative to the dense model and CPU latency
(batch 1, 1 thread) go to benchmarks/results/basis-MODEL.json (basis-MODEL-hard.json with
--hard: 30% of the images for training, 60% for test), row by row: running the same
command again resumes where it stopped (--fresh starts over). Dense models are cached in
OUT/cache. A resumed run's rows can differ from an uninterrupted run's within noise: each seed
has one training loader, whose shuffle order depends on the epochs run before.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

import prunekit as pk
from anchors import torch_pruning
from machine import machine
from prunekit.train import accuracy, fit
from tasks import options

RESULTS = Path(__file__).parent / "results"
METHODS = ("basis", "double", "channel-taylor", "channel-l2", "tp-taylor", "tp-l2")
MODELS = {  # zoo name, options, input normalisation, output head
    "lite0": ("efficientnet_lite0", {"num_classes": 10}, "efficientnet_lite0", "classifier"),
    "resnet18": ("resnet18", {"num_classes": 10}, "imagenet", "fc"),
}

Pruner = Callable[[nn.Module, torch.Tensor, Any], nn.Module]


def pruner(name: str, keep: float, args: argparse.Namespace, seed: int) -> Pruner:
    target = pk.Target(params=keep)
    basis = pk.BasisConfig(target=target, epochs=args.basis_epochs, seed=seed)
    head = MODELS[args.model][3]
    configs = {
        "basis": basis,
        "double": pk.DoubleConfig(
            channel=pk.ChannelConfig(
                target=pk.Target(params=min(0.7, args.double_channel * keep)),
                importance="taylor",
                seed=seed,
            ),
            basis=basis,
        ),
        "channel-taylor": pk.ChannelConfig(target=target, importance="taylor", seed=seed),
        "channel-l2": pk.ChannelConfig(target=target, importance="l2", seed=seed),
    }
    if name in configs:
        return lambda m, x, train: pk.prune(m, configs[name], x, train_data=train).model
    importance = name.removeprefix("tp-")
    return lambda m, x, train: torch_pruning(m, x, train, keep, importance, head)


def dense_model(args: argparse.Namespace, seed: int, train: Any) -> nn.Module:
    zoo_name, model_options, _, _ = MODELS[args.model]
    model = pk.zoo.model(zoo_name, **model_options)
    hard = "-hard" if args.hard else ""
    name = f"basis-{args.model}{hard}-{args.size}px-{args.epochs}ep-lr{args.lr}-seed{seed}"
    cache = args.out / "cache" / f"{name}.safetensors"
    if cache.exists() and not args.fresh:
        load_model(model, str(cache))
        return model
    torch.manual_seed(seed)
    fit(model, train, epochs=args.epochs, lr=args.lr, seed=seed, progress=args.progress)
    cache.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, str(cache))
    return model


def _row(model: nn.Module, dense: pk.Metrics, example: torch.Tensor) -> dict[str, float]:
    metrics = pk.measure(model, example[:1], latency=True, threads=1)
    return {
        "params_kept": metrics.params / dense.params,
        "macs_kept": metrics.macs / dense.macs,
        "latency_ms": metrics.latency.median_ms,
    }


def run_seed(args: argparse.Namespace, seed: int, rows: list[dict[str, Any]], save: Any) -> None:
    data = pk.zoo.dataset(
        "digits",
        size=args.size,
        channels=3,
        normalize=MODELS[args.model][2],
        seed=seed,
        **options("digits", args.hard),
    )
    train = data.loader("train", batch_size=64)
    test = data.loader("test", batch_size=256)
    example = next(iter(test))[0][:2]
    done = {(r["seed"], r["method"], r.get("keep")) for r in rows}
    model = dense_model(args, seed, train)
    dense_metrics = pk.measure(model, example[:1])
    if (seed, "dense", None) not in done:
        rows.append({"seed": seed, "method": "dense", "accuracy": accuracy(model, test)})
        rows[-1] |= _row(model, dense_metrics, example)
        save()
    for keep in args.points:
        for name in args.methods:
            if (seed, name, keep) in done:
                continue
            start = time.perf_counter()
            row = {"seed": seed, "method": name, "keep": keep}
            try:
                pruned = pruner(name, keep, args, seed)(copy.deepcopy(model), example, train)
            except (pk.ConfigError, RuntimeError) as error:  # a budget it cannot reach: say so
                rows.append(row | {"unreachable": str(error)})
                save()
                print(f"[seed {seed}] {name:14s} keep {keep:.3f}: unreachable", flush=True)
                continue
            row["before_finetune"] = accuracy(pruned, test)
            epochs = args.finetune + (0 if name in ("basis", "double") else args.basis_epochs)
            fit(pruned, train, epochs=epochs, lr=args.finetune_lr, seed=seed)
            row["accuracy"] = accuracy(pruned, test)
            row |= _row(pruned, dense_metrics, example)
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            save()
            print(
                f"[seed {seed}] {name:14s} keep {keep:.3f}: params {row['params_kept']:.4f} "
                f"acc {row['before_finetune']:.4f} -> {row['accuracy']:.4f} "
                f"({row['seconds']:.0f} s)",
                flush=True,
            )


def command(args: argparse.Namespace) -> str:
    lr = "" if args.lr == 1e-3 else f" --lr {args.lr}"  # the default reads as before
    return (
        f"python benchmarks/basis.py --model {args.model} --size {args.size} "
        f"--seeds {args.seeds} --epochs {args.epochs}{lr} --basis-epochs {args.basis_epochs} "
        f"--finetune {args.finetune} --finetune-lr {args.finetune_lr} "
        f"--double-channel {args.double_channel} "
        f"--points {' '.join(map(str, args.points))} --methods {' '.join(args.methods)}"
        f"{' --hard' if args.hard else ''}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=tuple(MODELS), default="lite0")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8, help="dense training epochs")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--basis-epochs", type=int, default=2)
    parser.add_argument("--finetune", type=int, default=6)
    parser.add_argument("--finetune-lr", type=float, default=2e-3)
    parser.add_argument("--double-channel", type=float, default=2.0)
    parser.add_argument("--points", type=float, nargs="+", default=[0.2, 0.1, 0.05, 0.035, 0.025])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--hard", action="store_true", help="fewer training images")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="ignore rows and models done before")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    path = args.out / f"basis-{args.model}{'-hard' if args.hard else ''}.json"
    result = {"command": command(args), "machine": machine(2), "rows": []}
    if path.exists() and not args.fresh:
        previous = json.loads(path.read_text())
        if previous["command"] == result["command"]:
            result["rows"] = previous["rows"]

    def save() -> None:
        args.out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        tmp.replace(path)

    for seed in range(args.seeds):
        run_seed(args, seed, result["rows"], save)
    save()


if __name__ == "__main__":
    main()
