"""Dependency-aware channel pruning: the structural core's baseline method."""

from prunekit.methods.channel.config import ChannelConfig

__all__ = ["ChannelConfig"]
