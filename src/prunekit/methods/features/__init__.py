"""Induced feature selection by structured pruning."""

from prunekit.methods.features.config import FeatureConfig

__all__ = ["FeatureConfig"]
