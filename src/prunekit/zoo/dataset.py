"""The Dataset bundle every zoo dataset returns, and seeded splitting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data import Dataset as TorchDataset

from prunekit.errors import ConfigError

SPLITS = ("train", "val", "test")


@dataclass
class Dataset:
    """Train/val/test splits with a fixed seed, and what a model needs to know about them."""

    name: str
    train: TorchDataset[Any]
    val: TorchDataset[Any]
    test: TorchDataset[Any]
    num_classes: int | None
    input_shape: tuple[int, ...]
    feature_names: list[str] | None = None
    seed: int = 0

    def split(self, split: str) -> TorchDataset[Any]:
        if split not in SPLITS:
            raise ConfigError(f"split is {split!r}; expected one of {', '.join(SPLITS)}")
        return getattr(self, split)

    def loader(
        self,
        split: str,
        batch_size: int = 64,
        shuffle: bool | None = None,
        **kwargs: Any,
    ) -> DataLoader[Any]:
        """A DataLoader over ``split``; shuffled (seeded) for train only by default."""
        data = self.split(split)
        if len(data) == 0:  # type: ignore[arg-type]
            raise ConfigError(
                f"the {split!r} split of dataset {self.name!r} is empty; "
                "fix: build the dataset with val_fraction > 0"
            )
        if batch_size < 1:
            raise ConfigError(f"batch_size is {batch_size}; it must be at least 1")
        shuffle = split == "train" if shuffle is None else shuffle
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            data, batch_size=batch_size, shuffle=shuffle, generator=generator, **kwargs
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(self.split(s))}" for s in SPLITS)  # type: ignore[arg-type]
        return (
            f"Dataset({self.name!r}, {sizes}, num_classes={self.num_classes}, "
            f"input_shape={self.input_shape})"
        )


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    for field, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{field} is {value}; it must be in [0, 1)")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(
            f"val_fraction + test_fraction is {val_fraction + test_fraction}; "
            "it must leave some data for training (below 1)"
        )


def split_indices(
    labels: Sequence[int] | np.ndarray | None,
    n: int,
    fractions: Sequence[float],
    seed: int,
) -> list[np.ndarray]:
    """Seeded split of ``range(n)`` into pieces with the given fractions (the first takes the
    rest); stratified by ``labels`` when given, so every class appears in proportion."""
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(np.asarray(labels) == c) for c in np.unique(np.asarray(labels))]
    )
    pieces: list[list[np.ndarray]] = [[] for _ in fractions]
    for members in groups:
        members = rng.permutation(members)
        start = 0
        for i, fraction in enumerate(fractions):
            if i == 0:
                continue
            count = round(fraction * len(members))
            pieces[i].append(members[start : start + count])
            start += count
        pieces[0].append(members[start:])
    return [np.sort(np.concatenate(p)) if p else np.array([], dtype=int) for p in pieces]


def tensor_dataset(
    x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, index: np.ndarray
) -> TensorDataset:
    xt = torch.as_tensor(np.asarray(x)[index], dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y)[index], dtype=torch.long)
    return TensorDataset(xt, yt)
