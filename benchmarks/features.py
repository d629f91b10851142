"""Induced feature selection against classical selectors (issue 8), one command:

    .venv/bin/python benchmarks/features.py [--seeds 3] [--epochs 150]

Protocol (the issue's): 80/20 split, standardised inputs, an MLP with hidden layers of 128 and
64 units, AdamW lr 2e-3, batch 64, ``--epochs`` epochs for every method. prunekit's method
spends half of them in sparse training and retrains the reduced model for the other half.
Baselines train the same MLP on the features they select, for all the epochs.

Input patches of a ConvNet (task ``digits-conv``): a 2-block SmallResNet on digits as 1x8x8
images keeps 4 of its 16 2x2 patches; prunekit (``FeatureConfig(patch=2)``, half sparse
training, half retraining) against the same ConvNet trained for all ``--conv-epochs`` on images
whose other patches are zero: random patches, and the patches whose pixels have the highest
summed mutual information with the label.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from machine import machine
from prunekit.core.edit.input_patches import patch_mask, to_patches
from prunekit.train import accuracy, fit

RESULTS = Path(__file__).parent / "results"
TASKS = (("digits", 32), ("digits", 16), ("breast_cancer", 10), ("breast_cancer", 5))
PATCHES = 4  # digits-conv: keep 4 of the 16 2x2 patches of an 8x8 image (16 pixels)


def mlp(inputs: int, classes: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return pk.zoo.model("mlp", inputs=inputs, num_classes=classes)


def arrays(data: pk.zoo.Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    part = data.split(split)
    x = torch.stack([part[i][0] for i in range(len(part))]).numpy()
    y = torch.tensor([int(part[i][1]) for i in range(len(part))]).numpy()
    return x, y


def loader(x: np.ndarray, y: np.ndarray, seed: int, shuffle: bool = True) -> DataLoader:
    dataset = TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y))
    g = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=64, shuffle=shuffle, generator=g)


def train_on(columns: list[int], data: dict[str, Any], seed: int, epochs: int) -> dict[str, Any]:
    (xt, yt), (xs, ys) = data["train"], data["test"]
    model = mlp(len(columns), data["classes"], seed)
    fit(model, loader(xt[:, columns], yt, seed), epochs=epochs, lr=2e-3, seed=seed)
    metrics = pk.measure(model, torch.zeros(1, len(columns)))
    acc = accuracy(model, loader(xs[:, columns], ys, seed, shuffle=False))
    return {"accuracy": acc, "params": metrics.params, "macs": metrics.macs, "kept": columns}


def selectors(x: np.ndarray, y: np.ndarray, k: int, seed: int) -> dict[str, list[int]]:
    from sklearn.feature_selection import SelectKBest, mutual_info_classif
    from sklearn.linear_model import LogisticRegression

    mi = SelectKBest(lambda a, b: mutual_info_classif(a, b, random_state=seed), k=k).fit(x, y)
    logistic = LogisticRegression(
        l1_ratio=1.0, C=0.1, solver="saga", max_iter=5000, random_state=seed
    ).fit(x, y)
    weight = np.abs(logistic.coef_).max(0)
    columns = list(range(x.shape[1]))
    random.Random(seed).shuffle(columns)
    return {
        "random": sorted(columns[:k]),
        "selectkbest_mi": sorted(np.flatnonzero(mi.get_support()).tolist()),
        "l1_logistic": sorted(np.argsort(-weight, kind="stable")[:k].tolist()),
    }


def ours(data: dict[str, Any], k: int, hidden: float, seed: int, epochs: int) -> dict[str, Any]:
    (xt, yt), (xs, ys) = data["train"], data["test"]
    width = xt.shape[1]
    model = mlp(width, data["classes"], seed)
    config = pk.FeatureConfig(
        target=pk.Target(features=k / width),
        hidden=hidden,
        epochs=epochs // 2,
        lr=2e-3,
        seed=seed,
        feature_names=tuple(data["names"]),
    )
    result = pk.prune(
        model, config, example_inputs=torch.zeros(2, width), train_data=loader(xt, yt, seed)
    )
    selector = pk.feature_selector(result.model)
    assert selector is not None
    train = list(selector.batches(loader(xt, yt, seed)))
    fit(result.model, train, epochs=epochs - epochs // 2, lr=2e-3, seed=seed)
    acc = accuracy(result.model, selector.batches(loader(xs, ys, seed, shuffle=False)))
    return {
        "accuracy": acc,
        "params": result.after.params,
        "macs": pk.measure(result.model, torch.zeros(1, len(selector.keep))).macs,  # batch 1
        "kept": list(selector.keep),
        "ranked": result.details["ranked"],
    }


def weight_only(data: dict[str, Any], params: int, seed: int, epochs: int) -> dict[str, Any]:
    """All inputs kept; hidden neurons pruned (L2, through the core) to ``params``."""
    (xt, yt), (xs, ys) = data["train"], data["test"]
    width = xt.shape[1]
    model = mlp(width, data["classes"], seed)
    fit(model, loader(xt, yt, seed), epochs=epochs // 2, lr=2e-3, seed=seed)
    fraction = params / pk.measure(model, torch.zeros(1, width)).params
    config = pk.ChannelConfig(target=pk.Target(params=min(1.0, fraction)), round_to=1)
    result = pk.prune(model, config, example_inputs=torch.zeros(2, width))
    fit(result.model, loader(xt, yt, seed), epochs=epochs - epochs // 2, lr=2e-3, seed=seed)
    acc = accuracy(result.model, loader(xs, ys, seed, shuffle=False))
    macs = pk.measure(result.model, torch.zeros(1, width)).macs  # per sample, like the others
    return {"accuracy": acc, "params": result.after.params, "macs": macs}


def convnet(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return pk.zoo.model("small_resnet", dims=2, blocks=2, width=16)


def conv_on_patches(
    patches: list[int], data: dict[str, Any], seed: int, epochs: int
) -> dict[str, Any]:
    """The ConvNet trained on images whose other patches are zero (what a sensor reading only
    those patches gives it)."""
    mask = patch_mask((1, 8, 8), 2, patches).numpy()
    (xt, yt), (xs, ys) = data["train"], data["test"]
    model = convnet(seed)
    fit(model, loader(xt * mask, yt, seed), epochs=epochs, lr=2e-3, seed=seed)
    metrics = pk.measure(model, torch.zeros(1, 1, 8, 8))
    acc = accuracy(model, loader(xs * mask, ys, seed, shuffle=False))
    return {"accuracy": acc, "params": metrics.params, "macs": metrics.macs, "kept": patches}


def conv_ours(data: dict[str, Any], seed: int, epochs: int) -> dict[str, Any]:
    (xt, yt), (xs, ys) = data["train"], data["test"]
    config = pk.FeatureConfig(
        target=pk.Target(features=PATCHES / 16), patch=2, epochs=epochs // 2, lr=2e-3, seed=seed
    )
    result = pk.prune(
        convnet(seed),
        config,
        example_inputs=torch.zeros(2, 1, 8, 8),
        train_data=loader(xt, yt, seed),
    )
    selector = pk.feature_selector(result.model)
    assert selector is not None
    train = list(selector.batches(loader(xt, yt, seed)))
    fit(result.model, train, epochs=epochs - epochs // 2, lr=2e-3, seed=seed)
    acc = accuracy(result.model, selector.batches(loader(xs, ys, seed, shuffle=False)))
    reduced = selector(torch.zeros(1, 1, 8, 8))
    metrics = pk.measure(result.model, reduced)
    return {
        "accuracy": acc,
        "params": metrics.params,
        "macs": metrics.macs,
        "kept": list(selector.keep),
    }


def run_patches(seed: int, epochs: int) -> dict[str, dict[str, Any]]:
    """Input patches of a ConvNet (2-block SmallResNet, width 16) on digits as 1x8x8 images:
    prunekit's patch selection against random patches and the patches whose pixels have the
    highest summed mutual information with the label."""
    from sklearn.feature_selection import mutual_info_classif

    ds = pk.zoo.dataset("digits", val_fraction=0.0, test_fraction=0.2, seed=seed)
    data = {"train": arrays(ds, "train"), "test": arrays(ds, "test")}
    xt, yt = data["train"]
    mi = mutual_info_classif(xt.reshape(len(xt), -1), yt, random_state=seed)
    per_patch = to_patches(mi.reshape(1, 1, 8, 8), 2).reshape(4, 16).sum(0)
    shuffled = list(range(16))
    random.Random(seed).shuffle(shuffled)
    return {
        "dense": conv_on_patches(list(range(16)), data, seed, epochs),
        "random": conv_on_patches(sorted(shuffled[:PATCHES]), data, seed, epochs),
        "selectkbest_mi": conv_on_patches(
            sorted(np.argsort(-per_patch, kind="stable")[:PATCHES].tolist()), data, seed, epochs
        ),
        "prunekit": conv_ours(data, seed, epochs),
    }


def run(seeds: int, epochs: int, conv_epochs: int) -> dict[str, Any]:
    rows = []
    for seed in range(seeds if conv_epochs else 0):
        start = time.perf_counter()
        found = run_patches(seed, conv_epochs)
        record(rows, ("digits-conv", PATCHES, 16, seed), found, start)
    for name, k in TASKS:
        for seed in range(seeds):
            ds = (
                pk.zoo.dataset(
                    name,
                    flatten=True,
                    standardize=True,
                    val_fraction=0.0,
                    test_fraction=0.2,
                    seed=seed,
                )
                if name == "digits"
                else pk.zoo.dataset(
                    name, standardize=True, val_fraction=0.0, test_fraction=0.2, seed=seed
                )
            )
            data = {
                "train": arrays(ds, "train"),
                "test": arrays(ds, "test"),
                "classes": ds.num_classes,
                "names": ds.feature_names,
            }
            width = data["train"][0].shape[1]
            start = time.perf_counter()
            found = {"dense": train_on(list(range(width)), data, seed, epochs)}
            for method, columns in selectors(*data["train"], k, seed).items():
                found[method] = train_on(columns, data, seed, epochs)
            found["prunekit"] = ours(data, k, 0.0, seed, epochs)
            found["prunekit_hidden"] = ours(data, k, 0.55, seed, epochs)
            found["weight_only"] = weight_only(
                data, found["prunekit_hidden"]["params"], seed, epochs
            )
            record(rows, (name, k, width, seed), found, start)
    return {"rows": rows, "table": table(rows)}


def record(
    rows: list[dict[str, Any]],
    where: tuple[str, int, int, int],
    found: dict[str, dict[str, Any]],
    start: float,
) -> None:
    """One row per method of one (task, features kept, input width, seed), and a log line."""
    task, keep, width, seed = where
    for method, row in found.items():
        rows.append(
            {"task": task, "keep": keep, "width": width, "seed": seed, "method": method, **row}
        )
    summary = ", ".join(f"{m} {r['accuracy']:.4f}" for m, r in found.items())
    elapsed = time.perf_counter() - start
    print(f"[{task} keep {keep} seed {seed}] {summary} ({elapsed:.0f} s)", flush=True)


def table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    keys = sorted({(r["task"], r["keep"], r["method"]) for r in rows}, key=str)
    for task, keep, method in keys:
        chosen = [r for r in rows if (r["task"], r["keep"], r["method"]) == (task, keep, method)]
        accs = [100 * r["accuracy"] for r in chosen]
        out.append(
            {
                "task": task,
                "keep": keep,
                "method": method,
                "accuracy_mean": statistics.mean(accs),
                "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "params": statistics.mean(r["params"] for r in chosen),
                "macs": statistics.mean(r["macs"] for r in chosen),
                "seeds": len(chosen),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument(
        "--conv-epochs", type=int, default=40, help="epochs of the ConvNet patch task (0: skip)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.epochs < 2 or args.conv_epochs == 1 or args.conv_epochs < 0:
        parser.error("--epochs must be >= 2, --conv-epochs 0 or >= 2 (half sparse, half retrain)")
    torch.set_num_threads(1)
    result = run(args.seeds, args.epochs, args.conv_epochs)
    result["command"] = (
        f"python benchmarks/features.py --seeds {args.seeds} --epochs {args.epochs} "
        f"--conv-epochs {args.conv_epochs}"
    )
    result["machine"] = machine(1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "features.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
