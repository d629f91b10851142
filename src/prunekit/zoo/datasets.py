"""The offline dataset zoo: scikit-learn tables and digits, mnist1d, standard-library text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from prunekit.errors import ConfigError, UnknownNameError
from prunekit.zoo import mnist1d as mnist1d_source
from prunekit.zoo.dataset import Dataset, check_fractions, split_indices, tensor_dataset
from prunekit.zoo.images import ImageDataset, Normalize
from prunekit.zoo.text import TextDataset, stdlib_sentences


def _standardize(x: np.ndarray, train_index: np.ndarray) -> np.ndarray:
    """Zero mean and unit variance per feature, with statistics of the training split only."""
    mean = x[train_index].mean(axis=0)
    std = x[train_index].std(axis=0)
    return (x - mean) / np.where(std > 0, std, 1.0)


def _table(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    feature_names: list[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    standardize: bool,
) -> Dataset:
    check_fractions(val_fraction, test_fraction)
    train, val, test = split_indices(y, len(y), (0.0, val_fraction, test_fraction), seed)
    x = _standardize(x, train) if standardize else x
    return Dataset(
        name=name,
        train=tensor_dataset(x, y, train),
        val=tensor_dataset(x, y, val),
        test=tensor_dataset(x, y, test),
        num_classes=len(np.unique(y)),
        input_shape=(x.shape[1],),
        feature_names=list(feature_names),
        seed=seed,
    )


def _sklearn_table(loader_name: str) -> Callable[..., Dataset]:
    def build(
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
        standardize: bool = True,
    ) -> Dataset:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{loader_name}")()
        names = [str(n) for n in bunch.feature_names]
        return _table(
            loader_name,
            bunch.data.astype(np.float32),
            bunch.target,
            names,
            val_fraction,
            test_fraction,
            seed,
            standardize,
        )

    build.__doc__ = (
        f"scikit-learn's {loader_name} table, stratified splits, "
        "standardised with training statistics."
    )
    return build


def digits(
    size: int | None = None,
    channels: int = 1,
    normalize: Normalize = None,
    flatten: bool = False,
    standardize: bool = False,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """scikit-learn's 1797 8x8 digit images, scaled to [0, 1].

    Images: ``size`` resizes (bilinear), ``channels=3`` repeats the grey channel,
    ``normalize`` is a preset (``"imagenet"``, ``"efficientnet_lite0"``) or ``(mean, std)``.
    ``flatten=True`` gives 64 pixel features named ``pixel_<row>_<col>`` (for MLPs), optionally
    standardised with training statistics.
    """
    import sklearn.datasets

    bunch = sklearn.datasets.load_digits()
    images = bunch.images.astype(np.float32) / 16.0
    labels = bunch.target.astype(np.int64)
    if flatten:
        if size is not None or channels != 1 or normalize is not None:
            raise ConfigError(
                "digits(flatten=True) takes no size, channels or normalize; "
                "fix: use standardize=True for feature scaling"
            )
        names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
        return _table(
            "digits",
            images.reshape(len(labels), 64),
            labels,
            names,
            val_fraction,
            test_fraction,
            seed,
            standardize,
        )
    if standardize:
        raise ConfigError(
            "digits(standardize=True) needs flatten=True; fix: use normalize= for images"
        )
    if channels not in (1, 3):
        raise ConfigError(f"digits channels is {channels}; expected 1 or 3")
    if size is not None and size < 1:
        raise ConfigError(f"digits size is {size}; expected a positive number of pixels")
    check_fractions(val_fraction, test_fraction)
    splits = split_indices(labels, len(labels), (0.0, val_fraction, test_fraction), seed)
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(labels)

    def part(index: np.ndarray) -> ImageDataset:
        idx = torch.from_numpy(index)
        return ImageDataset(x[idx], y[idx], size=size, channels=channels, normalize=normalize)

    train, val, test = (part(i) for i in splits)
    return Dataset("digits", train, val, test, num_classes=10, input_shape=train.shape, seed=seed)


def mnist1d(
    val_fraction: float = 0.1, flatten: bool = False, seed: int = 0, **generator_options: Any
) -> Dataset:
    """MNIST-1D made offline by the ``mnist1d`` generator (default: 4000 train / 1000 test).

    ``val_fraction`` of the generated training part becomes the validation split (0 keeps the
    package's 4000/1000 split exactly). Generator options (``num_samples``, ``iid_noise_scale``,
    ``corr_noise_scale``, generator ``seed`` as ``generator_seed`` ...) are passed through.
    Inputs are (1, 40) signals, or 40 features with ``flatten=True``.
    """
    if "generator_seed" in generator_options:
        generator_options["seed"] = generator_options.pop("generator_seed")
    check_fractions(val_fraction, 0.0)
    arrays = mnist1d_source.generate(**generator_options)
    x, y = arrays["x"], arrays["y"]
    x_test, y_test = arrays["x_test"], arrays["y_test"]
    if not flatten:
        x, x_test = x[:, None, :], x_test[:, None, :]
    train, val = split_indices(y, len(y), (0.0, val_fraction), seed)
    names = [f"t{i}" for i in range(x.shape[-1])] if flatten else None
    return Dataset(
        name="mnist1d",
        train=tensor_dataset(x, y, train),
        val=tensor_dataset(x, y, val),
        test=tensor_dataset(x_test, y_test, np.arange(len(y_test))),
        num_classes=10,
        input_shape=tuple(x.shape[1:]),
        feature_names=names,
        seed=seed,
    )


def text(
    limit: int | None = None, val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0
) -> Dataset:
    """English sentences from the standard library's docstrings (no labels)."""
    check_fractions(val_fraction, test_fraction)
    sentences = stdlib_sentences(limit)
    train, val, test = split_indices(None, len(sentences), (0.0, val_fraction, test_fraction), seed)

    def part(index: np.ndarray) -> TextDataset:
        return TextDataset([sentences[i] for i in index])

    return Dataset(
        "text", part(train), part(val), part(test), num_classes=None, input_shape=(), seed=seed
    )


DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": digits,
    "mnist1d": mnist1d,
    "wine": _sklearn_table("wine"),
    "breast_cancer": _sklearn_table("breast_cancer"),
    "iris": _sklearn_table("iris"),
    "text": text,
}


def dataset(name: str, **options: Any) -> Dataset:
    """A zoo dataset by name, e.g. ``pk.zoo.dataset("digits", size=64, channels=3)``."""
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, list(DATASETS))
    try:
        return DATASETS[name](**options)
    except TypeError as exc:
        if "unexpected keyword" not in str(exc):
            raise
        raise ConfigError(f"dataset {name!r}: {exc}; see help(pk.zoo.datasets.{name})") from exc
