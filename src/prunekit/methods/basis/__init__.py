"""Basis scaling and double pruning."""

from prunekit.methods.basis.config import BasisConfig, DoubleConfig

__all__ = ["BasisConfig", "DoubleConfig"]
