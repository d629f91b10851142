"""Layer-importance baselines (Block Influence, angular distance, random, drop-last)."""

from prunekit.methods.layers.config import LayerConfig

__all__ = ["LayerConfig"]
