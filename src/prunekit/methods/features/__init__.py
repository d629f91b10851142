"""Induced feature selection by structured pruning."""

from prunekit.methods.features.config import FeatureConfig
from prunekit.methods.features.method import prune_features
from prunekit.methods.registry import MethodEntry, register

register(
    MethodEntry(
        "features", FeatureConfig, prune_features, resumable=True, page="methods/features.md"
    )
)

__all__ = ["FeatureConfig"]
