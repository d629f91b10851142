"""ChannelConfig: channel pruning by magnitude, Taylor, BN scale or random importance."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from prunekit.core.budget.target import Target
from prunekit.core.scoring.importance import CRITERIA
from prunekit.errors import ConfigError
from prunekit.methods.config_base import LatencyTargetConfig

IgnoreItem = str | type | nn.Module


@dataclass(frozen=True)
class ChannelConfig(LatencyTargetConfig):
    """Remove whole channels (filters, hidden units) and everything coupled to them.

    - ``target``: ``Target(params=...)``, ``Target(macs=...)`` and/or ``Target(latency=...)``:
      keep at most this fraction of the original; reached within ``tolerance`` (relative) by
      searching the pruning level. Latency is predicted from per-layer tables measured on the
      model's device and dtype at the example inputs' batch, then checked by timing the pruned
      model against the original (docs/guide.md, "Latency as a target").
    - ``latency_threads``, ``latency_refresh``: see ``LatencyTargetConfig``.
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
                "expected pk.Target(params=...), pk.Target(macs=...) or pk.Target(latency=...)"
            )
        if not set(self.target.given()) & {"params", "macs", "latency"}:
            raise ConfigError(
                "ChannelConfig.target needs params, macs and/or latency "
                "(layers and features belong to other methods)"
            )
        self._check_latency_fields()
        self._one_of("importance", CRITERIA)
        self._one_of("scope", ("global", "local"))
        self._at_least("round_to", 1)
        self._fraction("max_fraction")
        self._fraction("tolerance")
        self._at_least("taylor_batches", 1)
        object.__setattr__(self, "ignore", tuple(self.ignore))
