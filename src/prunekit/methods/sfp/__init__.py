"""Soft filter pruning (SFP) and CR-SFP."""

from prunekit.methods.sfp.config import CRSFPConfig, SFPConfig

__all__ = ["CRSFPConfig", "SFPConfig"]
