"""Adaptive layer + channel pruning (learned split between removed layers and channels)."""

from prunekit.methods.adaptive.config import AdaptiveConfig
from prunekit.methods.adaptive.gates import AdaptiveGates
from prunekit.methods.adaptive.method import prune_adaptive
from prunekit.methods.registry import MethodEntry, register

register(
    MethodEntry(
        "adaptive", AdaptiveConfig, prune_adaptive, resumable=True, page="methods/adaptive.md"
    )
)

__all__ = ["AdaptiveConfig", "AdaptiveGates"]
