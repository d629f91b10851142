"""Dependency-aware channel pruning: the structural core's baseline method."""

from prunekit.methods.channel.config import ChannelConfig
from prunekit.methods.channel.method import prune_channels
from prunekit.methods.registry import MethodEntry, register

register(MethodEntry("channel", ChannelConfig, prune_channels, resumable=False, page="core.md"))

__all__ = ["ChannelConfig"]
