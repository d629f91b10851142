"""A recipe's model and data by name: the zoo, torchvision, timm, an image folder, or your own
factory (``python:module:factory``)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from torch import nn

from prunekit.errors import ConfigError, OfflineError, UnknownNameError
from prunekit.zoo import available_datasets, dataset
from prunekit.zoo import model as zoo_model
from prunekit.zoo.dataset import Dataset


def build_model(name: str, options: dict[str, Any]) -> nn.Module:
    if name.startswith("python:"):
        return _call(_factory(name, "model.name"), options, "model.options", name)
    return _call(zoo_model, options, "model.options", name, name)


def _call(factory: Any, options: dict[str, Any], field: str, name: str, *args: Any) -> Any:
    """``factory(*args, **options)``; an option the factory does not take is named, with the
    recipe field, instead of a raw TypeError."""
    try:
        return factory(*args, **options)
    except TypeError as exc:
        if not any(m in str(exc) for m in ("unexpected keyword", "multiple values", "required")):
            raise
        raise ConfigError(
            f"recipe field {field} {options} does not fit {name}: {exc}; fix: check the option "
            "names against the model's constructor"
        ) from exc


def build_data(name: str, options: dict[str, Any], seed: int) -> Dataset:
    if name.startswith("python:"):
        return _factory(name, "data.name")(seed=seed, **options)
    if name.startswith("imagefolder:"):
        return _image_folder(Path(name.removeprefix("imagefolder:")), options, seed)
    if name.startswith("torchvision:"):
        return _torchvision(name.removeprefix("torchvision:"), options, seed)
    if name not in available_datasets():
        raise UnknownNameError(
            "dataset",
            name,
            available_datasets(),
            hint="; or imagefolder:PATH, torchvision:NAME, python:module:factory",
        )
    return dataset(name, seed=seed, **options)


def _factory(spec: str, field: str) -> Any:
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts[1:]):
        raise ConfigError(f"recipe field {field} is {spec!r}; expected python:module:factory")
    try:
        module = importlib.import_module(parts[1])
    except ImportError as exc:
        raise ConfigError(
            f"recipe field {field}: cannot import {parts[1]!r} ({exc}); fix: run prunekit from "
            f"the directory that holds {parts[1].split('.')[0]}.py (or its package), or add that "
            "directory to PYTHONPATH"
        ) from exc
    factory = getattr(module, parts[2], None)
    if not callable(factory):
        raise ConfigError(f"recipe field {field}: {parts[1]} has no callable {parts[2]!r}")
    return factory


def _split(full: Any, seed: int, labels: int) -> Dataset:
    import torch
    from torch.utils.data import Subset

    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test, n_val = len(order) // 5, len(order) // 10
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    shape = tuple(full[0][0].shape)
    return Dataset(
        name="custom",
        train=Subset(full, train),
        val=Subset(full, val),
        test=Subset(full, test),
        num_classes=labels,
        input_shape=shape,
        seed=seed,
    )


def _image_folder(root: Path, options: dict[str, Any], seed: int) -> Dataset:
    from torchvision import datasets, transforms

    if not root.is_dir():
        raise ConfigError(f"recipe field data.name: image folder {root} does not exist")
    size = int(options.get("size", 224))
    transform = transforms.Compose(
        [transforms.Resize((size, size)), transforms.ToTensor(), transforms.Normalize(0.5, 0.5)]
    )
    full = datasets.ImageFolder(str(root), transform=transform)
    return _split(full, seed, len(full.classes))


def _torchvision(name: str, options: dict[str, Any], seed: int) -> Dataset:
    from torchvision import datasets, transforms

    cls = getattr(datasets, name, None)
    if cls is None:
        raise ConfigError(f"recipe field data.name: torchvision has no dataset {name!r}")
    root = options.get("root", str(Path.home() / ".cache" / "prunekit" / "torchvision"))
    try:
        full = cls(root, download=True, transform=transforms.ToTensor())
    except Exception as exc:
        raise OfflineError(
            f"torchvision dataset {name} could not be loaded or downloaded to {root} ({exc}); "
            "offline, use a zoo dataset (digits, mnist1d) or imagefolder:PATH"
        ) from exc
    return _split(full, seed, len(getattr(full, "classes", [])) or 10)
