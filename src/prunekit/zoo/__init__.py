"""Offline pretrained models and datasets that need no network.

``pk.zoo.model(name)`` and ``pk.zoo.dataset(name, **options)``; see ``available_models()`` and
``available_datasets()``.
"""

from prunekit.models.build import build_from_spec
from prunekit.zoo.dataset import Dataset
from prunekit.zoo.datasets import DATASETS, dataset
from prunekit.zoo.models import ZOO_MODELS, default_example_inputs, model, tokenizer
from prunekit.zoo.text import sentence_embeddings


def available_models() -> list[str]:
    return sorted(ZOO_MODELS)


def available_datasets() -> list[str]:
    return sorted(DATASETS)


__all__ = [
    "Dataset",
    "available_datasets",
    "available_models",
    "build_from_spec",
    "dataset",
    "default_example_inputs",
    "model",
    "sentence_embeddings",
    "tokenizer",
]
