"""What the tests learn by training, as functions of a seed.

A trained network's accuracy depends on float rounding, and rounding differs between CPUs (AVX2
or AVX-512 kernels, another BLAS): the same seed gives other numbers on another machine. So no
test asserts what one machine printed. Each learned quantity is a function here; the tests call
it with seed 0 and assert a bound that ``benchmarks/test_bounds.py`` measured over 5 seeds on
two kernel sets (the bound sits at or below the mean minus four standard deviations; the
measurements and the bounds are in docs/testing.md, ``BOUNDS`` below is their one copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from prunekit.train import accuracy, fit, mean_loss

# quantity -> the bound the tests assert (a lower bound on an accuracy, seed 0)
BOUNDS: dict[str, float] = {
    "lite0_dense": 0.84,  # 10 runs: mean 0.937, std 0.023, min 0.894, mean - 4 std 0.845
    "lite0_pruned": 0.67,  # mean 0.865, std 0.047, min 0.749, mean - 4 std 0.678
    "patches_accuracy": 0.95,  # mean 0.994, std 0.004, min 0.987, mean - 4 std 0.976
    "fit_accuracy": 0.9,  # mean 0.978, std 0.016, min 0.961, mean - 4 std 0.914
}


@dataclass
class Lite0Run:
    """The zoo's ImageNet Lite0 transferred to digits at 32 px (2 epochs), double-pruned to 10%
    of its params (one epoch of basis training) and fine-tuned for 3 epochs: accuracies before
    and after, and the pruning result."""

    dense: float
    pruned: float
    result: pk.PruneResult
    example: torch.Tensor


def lite0_double_pruning(seed: int) -> Lite0Run:
    data = pk.zoo.dataset("digits", size=32, channels=3, normalize="efficientnet_lite0", seed=seed)
    train, test = data.loader("train", batch_size=64), data.loader("test", batch_size=256)
    torch.manual_seed(seed)  # the new 10-class head
    model = pk.zoo.model("efficientnet_lite0", num_classes=10)
    fit(model, train, epochs=2, lr=2e-3, seed=seed)
    dense = accuracy(model, test)
    example = next(iter(test))[0][:2]
    config = pk.DoubleConfig(
        channel=pk.ChannelConfig(target=pk.Target(params=0.2), importance="taylor", seed=seed),
        basis=pk.BasisConfig(target=pk.Target(params=0.1), epochs=1, seed=seed),
    )
    result = pk.prune(model, config, example_inputs=example, train_data=train)
    fit(result.model, train, epochs=3, lr=2e-3, seed=seed)
    return Lite0Run(dense, accuracy(result.model, test), result, example)


def patch_images(seed: int) -> tuple[DataLoader, torch.Tensor]:
    """8x8 images, 16 patches of 2x2: the label is the sign of patch 6's sum minus patch 9's;
    the other patches are noise, and patch 0 is always blank."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(384, 1, 8, 8, generator=g)
    x[:, :, :2, :2] = 0
    y = (x[:, 0, 2:4, 4:6].sum((1, 2)) > x[:, 0, 4:6, 2:4].sum((1, 2))).long()
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False), x


def patch_convnet(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 2)
    )


@dataclass
class PatchRun:
    result: pk.PruneResult
    data: DataLoader
    x: torch.Tensor
    accuracy: float


def patch_selection(seed: int, criterion: str) -> PatchRun:
    """Keep 2 of the 16 patches (and prune a quarter of the hidden channels); the accuracy of
    the returned model on the reduced training images, without retraining."""
    data, x = patch_images(seed)
    config = pk.FeatureConfig(
        target=pk.Target(features=2 / 16),
        patch=2,
        hidden=0.25,
        epochs=12,
        lr=1e-2,
        criterion=criterion,
        seed=seed,
    )
    result = pk.prune(patch_convnet(seed), config, example_inputs=x[:2], train_data=data)
    selector = pk.feature_selector(result.model)
    labels = torch.cat([b[1] for b in data])
    with torch.no_grad():
        predicted = result.model(selector(x) if selector is not None else x).argmax(1)
    return PatchRun(result, data, x, float((predicted == labels).float().mean()))


def separable(seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(128, 1, 20, generator=g)
    y = (x.mean((1, 2)) > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=32)


@dataclass
class FitRun:
    model: nn.Module
    losses: list[float]
    loss_before: float
    loss_after: float
    accuracy: float


def fit_separable(seed: int) -> FitRun:
    """A 2-block SmallResNet trained 16 epochs on a linearly separable 1-D task."""
    torch.manual_seed(seed)
    model = pk.zoo.model("small_resnet", dims=1, num_classes=2, blocks=2, width=8)
    data = separable(seed)
    before = mean_loss(model, data)
    losses = fit(model, data, epochs=16, lr=1e-2, seed=seed)
    return FitRun(model, losses, before, mean_loss(model, data), accuracy(model, data))


def informative_columns(seed: int) -> tuple[DataLoader, torch.Tensor]:
    """Labels depend on features 3 and 7 only; the other 10 are noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 12, generator=g)
    y = ((x[:, 3] + x[:, 7]) > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False), x


def column_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))


def column_selection(seed: int) -> tuple[pk.PruneResult, DataLoader, torch.Tensor]:
    """Keep 2 of the 12 columns (and prune a quarter of the hidden neurons)."""
    data, x = informative_columns(seed)
    names = tuple(f"f{i}" for i in range(12))
    config = pk.FeatureConfig(
        target=pk.Target(features=2 / 12),
        epochs=20,
        lr=1e-2,
        feature_names=names,
        hidden=0.25,
        seed=seed,
    )
    return pk.prune(column_mlp(seed), config, example_inputs=x[:2], train_data=data), data, x


def quantities(seed: int) -> dict[str, Any]:
    """Every bounded quantity at one seed, and the selections the tests assert exactly (they
    must be the informative ones at every seed: benchmarks/test_bounds.py)."""
    lite0 = lite0_double_pruning(seed)
    patches = [patch_selection(seed, c) for c in ("magnitude", "taylor")]
    return {
        "lite0_dense": lite0.dense,
        "lite0_pruned": lite0.pruned,
        "patches_accuracy": min(run.accuracy for run in patches),
        "fit_accuracy": fit_separable(seed).accuracy,
        "patches_kept": [run.result.details["kept_features"] for run in patches],
        "columns_kept": column_selection(seed)[0].details["kept_features"],
    }
