"""ChannelConfig: channel pruning by magnitude, Taylor, BN scale or random importance."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from prunekit.core.importance import CRITERIA
from prunekit.core.target import Target
from prunekit.errors import ConfigError

IgnoreItem = str | type | nn.Module


@dataclass(frozen=True)
class ChannelConfig:
    """Remove whole channels (filters, hidden units) and everything coupled to them.

    - ``target``: ``Target(params=...)`` and/or ``Target(macs=...)``: keep at most this fraction
      of the original; reached within ``tolerance`` (relative) by searching the pruning level.
    - ``importance``: ``"l1"``, ``"l2"``, ``"taylor"`` (needs ``train_data``), ``"bn"`` or
      ``"random"``.
    - ``scope``: ``"global"`` ranks all channels together (scores normalised per group),
      ``"local"`` removes the same fraction from every group.
    - ``round_to``: kept channel counts are multiples of this (default 8: measured faster than no
      rounding on CPU, see docs/benchmarks.md; groups smaller than 2 x round_to keep their own
      step). ``round_to=1`` disables it.
    - ``ignore``: module name patterns (fnmatch, e.g. ``"layer4.*"``), module types, or modules;
      a group touching an ignored module is left whole. The output layer is always kept.
    - ``max_fraction``: the most of any one group that may be removed.
    """

    target: Target
    importance: str = "l2"
    scope: str = "global"
    round_to: int = 8
    ignore: tuple[IgnoreItem, ...] = ()
    max_fraction: float = 0.9
    tolerance: float = 0.02
    taylor_batches: int = 8
    seed: int = 0
    verify: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.target, Target):
            raise ConfigError(
                f"ChannelConfig.target is {self.target!r}; "
                "expected pk.Target(params=...) or pk.Target(macs=...)"
            )
        if self.target.params is None and self.target.macs is None:
            raise ConfigError(
                "ChannelConfig.target needs params and/or macs "
                "(layers and features belong to other methods)"
            )
        if self.importance not in CRITERIA:
            raise ConfigError(
                f"ChannelConfig.importance is {self.importance!r}; "
                f"expected one of {', '.join(CRITERIA)}"
            )
        if self.scope not in ("global", "local"):
            raise ConfigError(
                f"ChannelConfig.scope is {self.scope!r}; expected 'global' or 'local'"
            )
        if not isinstance(self.round_to, int) or self.round_to < 1:
            raise ConfigError(
                f"ChannelConfig.round_to is {self.round_to!r}; expected a positive integer"
            )
        if not 0.0 < self.max_fraction < 1.0:
            raise ConfigError(
                f"ChannelConfig.max_fraction is {self.max_fraction}; expected a fraction in (0, 1)"
            )
        if not 0.0 < self.tolerance < 1.0:
            raise ConfigError(f"ChannelConfig.tolerance is {self.tolerance}; expected (0, 1)")
        if self.taylor_batches < 1:
            raise ConfigError(
                f"ChannelConfig.taylor_batches is {self.taylor_batches}; expected at least 1"
            )
        object.__setattr__(self, "ignore", tuple(self.ignore))
