"""Soft filter pruning (SFP) and CR-SFP."""

from prunekit.methods.registry import MethodEntry, register
from prunekit.methods.sfp.config import CRSFPConfig, SFPConfig
from prunekit.methods.sfp.method import prune_sfp

register(MethodEntry("sfp", SFPConfig, prune_sfp, resumable=True, page="methods/sfp.md"))
register(MethodEntry("crsfp", CRSFPConfig, prune_sfp, resumable=True, page="methods/sfp.md"))

__all__ = ["CRSFPConfig", "SFPConfig"]
