"""Layer-importance baselines (Block Influence, angular distance, random, drop-last)."""

from prunekit.methods.layers.config import LayerConfig
from prunekit.methods.layers.method import prune_layers
from prunekit.methods.registry import MethodEntry, register

register(MethodEntry("layers", LayerConfig, prune_layers, resumable=False, page="methods/sglp.md"))

__all__ = ["LayerConfig"]
