"""Adaptive layer + channel pruning (learned split between removed layers and channels)."""

from prunekit.methods.adaptive.config import AdaptiveConfig
from prunekit.methods.adaptive.gates import AdaptiveGates

__all__ = ["AdaptiveConfig", "AdaptiveGates"]
