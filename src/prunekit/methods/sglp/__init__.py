"""SGLP: similarity-guided layer partition pruning."""

from prunekit.methods.registry import MethodEntry, register
from prunekit.methods.sglp.config import SGLPConfig
from prunekit.methods.sglp.method import prune_sglp

register(MethodEntry("sglp", SGLPConfig, prune_sglp, resumable=False, page="methods/sglp.md"))

__all__ = ["SGLPConfig"]
