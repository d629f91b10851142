"""SGLP: similarity-guided layer partition pruning."""

from prunekit.methods.sglp.config import SGLPConfig

__all__ = ["SGLPConfig"]
