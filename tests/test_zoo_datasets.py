from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import prunekit as pk
from prunekit.zoo import mnist1d as mnist1d_source
from prunekit.zoo.cache import cache_dir

TABLES = {"wine": (13, 3, 178), "breast_cancer": (30, 2, 569), "iris": (4, 3, 150)}


def _all(split: torch.utils.data.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    items = [split[i] for i in range(len(split))]  # type: ignore[arg-type]
    return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])


@pytest.mark.parametrize("name", sorted(TABLES))
def test_tables(name: str) -> None:
    features, classes, total = TABLES[name]
    data = pk.zoo.dataset(name)
    sizes = [len(data.train), len(data.val), len(data.test)]  # type: ignore[arg-type]
    assert sum(sizes) == total and min(sizes) > 0
    assert data.num_classes == classes and data.input_shape == (features,)
    assert data.feature_names is not None and len(data.feature_names) == features
    x_train, y_train = _all(data.train)
    assert x_train.mean(0).abs().max() < 1e-4  # standardised with training statistics
    assert set(y_train.tolist()) == set(range(classes))  # stratified: every class in train
    again = pk.zoo.dataset(name)
    assert torch.equal(_all(again.test)[0], _all(data.test)[0])  # fixed seed
    other = pk.zoo.dataset(name, seed=1)
    assert not torch.equal(_all(other.test)[0], _all(data.test)[0])


def test_splits_do_not_overlap() -> None:
    data = pk.zoo.dataset("digits", flatten=True)
    rows = [{tuple(r.tolist()) for r in _all(s)[0]} for s in (data.train, data.val, data.test)]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])


def test_digits_images_for_an_imagenet_backbone() -> None:
    data = pk.zoo.dataset("digits", size=32, channels=3, normalize="efficientnet_lite0")
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10
    x, y = next(iter(data.loader("train", batch_size=16)))
    assert x.shape == (16, 3, 32, 32) and y.dtype == torch.long
    assert torch.equal(x[:, 0], x[:, 2])  # grey repeated
    assert x.min() >= -1.0 - 1e-6 and x.max() <= 1.0 + 1e-6  # (x - 0.5) / 0.5 of [0, 1]
    raw = pk.zoo.dataset("digits")
    assert raw.input_shape == (1, 8, 8)
    assert len(raw.train) + len(raw.val) + len(raw.test) == 1797  # type: ignore[arg-type]


def test_digits_flat_features_for_mlps() -> None:
    data = pk.zoo.dataset("digits", flatten=True, standardize=True)
    assert data.input_shape == (64,)
    assert data.feature_names is not None and data.feature_names[9] == "pixel_1_1"


def test_loader_shuffles_train_only_and_reproducibly() -> None:
    data = pk.zoo.dataset("iris")
    first = [y.tolist() for _, y in data.loader("train", batch_size=8)]
    second = [y.tolist() for _, y in data.loader("train", batch_size=8)]
    assert first == second
    test_y = torch.cat([y for _, y in data.loader("test", batch_size=8)])
    assert torch.equal(test_y, _all(data.test)[1])


def test_mnist1d_default_size_cached_and_rng_untouched() -> None:
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    data = pk.zoo.dataset("mnist1d", val_fraction=0.0)
    assert np.random.rand() == expected_np and random.random() == expected_py
    assert (len(data.train), len(data.val), len(data.test)) == (4000, 0, 1000)  # type: ignore[arg-type]
    assert data.input_shape == (1, 40) and data.num_classes == 10
    assert list(cache_dir("mnist1d").glob("*.npz"))
    with pytest.raises(pk.ConfigError, match="'val' split .* is empty"):
        data.loader("val")


def test_mnist1d_cache_is_used_and_repaired(monkeypatch: pytest.MonkeyPatch) -> None:
    first = pk.zoo.dataset("mnist1d", num_samples=600)
    files = sorted(cache_dir("mnist1d").glob("*.npz"), key=lambda p: p.stat().st_mtime)
    files[-1].write_bytes(b"damaged")
    repaired = pk.zoo.dataset("mnist1d", num_samples=600)
    assert torch.equal(_all(repaired.test)[0], _all(first.test)[0])
    calls = []
    monkeypatch.setattr(mnist1d_source, "_make", lambda args: calls.append(args))
    pk.zoo.dataset("mnist1d", num_samples=600)
    assert calls == []  # served from the cache


def test_mnist1d_generator_options() -> None:
    noisy = pk.zoo.dataset("mnist1d", num_samples=500, iid_noise_scale=0.1, flatten=True)
    assert noisy.input_shape == (40,) and len(noisy.test) == 100  # type: ignore[arg-type]
    with pytest.raises(pk.ConfigError, match="unknown mnist1d generator options.*noise_level"):
        pk.zoo.dataset("mnist1d", noise_level=3)


def test_text_sentences_are_deterministic_english() -> None:
    data = pk.zoo.dataset("text")
    sentences = [data.train[i] for i in range(len(data.train))]  # type: ignore[arg-type]
    assert len(sentences) > 800 and data.num_classes is None
    assert all(s[0].isupper() and s[-1] in ".!?" and " " in s for s in sentences)
    assert sentences == [pk.zoo.dataset("text").train[i] for i in range(len(sentences))]
    batch = next(iter(data.loader("test", batch_size=4)))
    assert isinstance(batch, list) and len(batch) == 4 and isinstance(batch[0], str)


def test_unknown_dataset_and_options() -> None:
    with pytest.raises(pk.UnknownNameError, match="available: breast_cancer, digits, iris"):
        pk.zoo.dataset("cifar10")
    with pytest.raises(pk.ConfigError, match="unexpected keyword"):
        pk.zoo.dataset("wine", sizee=3)
    with pytest.raises(pk.ConfigError, match="val_fraction is 1.5"):
        pk.zoo.dataset("iris", val_fraction=1.5)
    with pytest.raises(pk.ConfigError, match="channels is 2"):
        pk.zoo.dataset("digits", channels=2)
    with pytest.raises(pk.UnknownNameError, match="normalisation 'imagenett'"):
        pk.zoo.dataset("digits", normalize="imagenett")
