"""AdaptiveConfig: learn which layers and which channels to cut, under one budget."""

from __future__ import annotations

import os
from dataclasses import dataclass

from prunekit.core.budget.target import Target
from prunekit.errors import ConfigError
from prunekit.methods.config_base import MethodConfig

RANKINGS = ("magnitude", "per_cost")


@dataclass(frozen=True)
class AdaptiveConfig(MethodConfig):
    """Adaptive layer + channel pruning (docs/methods/adaptive.md).

    A scalar gate on every residual branch (``x + g * F(x)``) and the batch-norm scales (or a
    channel gate where a group has no batch norm) are trained with an L1 penalty weighted by
    the parameters each gate controls, so layers and channels compete in one currency. Then
    all gates are ranked together and the lowest are removed until ``target`` is met: how
    much is cut as layers and how much as channels comes out of training.

    - ``target``: ``Target(params=...)`` and/or ``macs``, fractions of the original to keep.
    - ``penalty``: lambda, the weight of the cost-weighted L1 term.
    - ``sparse_epochs``: epochs of sparse training (``pk.train.fit``: AdamW, cosine, ``lr``);
      0 uses the gates as they are (e.g. trained in your own loop with ``AdaptiveGates``).
      The gates (and the gated batch-norm scales) train at ``gate_lr``.
    - ``finetune_epochs``: epochs of fine-tuning after the removal, at ``finetune_lr``.
    - ``ranking``: ``"magnitude"`` ranks gates by |gate| (the penalty already weighted
      them by cost), ``"per_cost"`` by |gate| / cost.
    - ``layers`` / ``channels``: switch either kind of gate off (channel-only is Network
      Slimming with cost weights; layer-only is a learned-gate layer pruning).
    - ``max_fraction``: the most of any channel group that may be removed (no layer is left
      without channels).
    - ``checkpoint_dir``: sparse training and fine-tuning write a checkpoint every epoch there
      and resume from it.
    """

    target: Target
    penalty: float = 0.5
    sparse_epochs: int = 8
    finetune_epochs: int = 4
    lr: float = 1e-3
    gate_lr: float = 1e-2
    finetune_lr: float = 1e-3
    ranking: str = "magnitude"
    layers: bool = True
    channels: bool = True
    max_fraction: float = 0.9
    units: tuple[str, ...] = ()
    checkpoint_dir: str | os.PathLike[str] | None = None
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.target, Target) or not (
            self.target.params is not None or self.target.macs is not None
        ):
            raise ConfigError(
                f"AdaptiveConfig.target is {self.target!r}; expected pk.Target(params=...) "
                "and/or pk.Target(macs=...)"
            )
        if self.target.layers is not None or self.target.features is not None:
            raise ConfigError(
                "AdaptiveConfig.target takes params and/or macs only: how many layers go is "
                "learned (use pk.SGLPConfig for a layer count)"
            )
        if self.penalty < 0:
            self._fail("penalty", ">= 0")
        for name in ("sparse_epochs", "finetune_epochs"):
            self._at_least(name, 0)
        for name in ("lr", "gate_lr", "finetune_lr"):
            self._positive(name)
        self._one_of("ranking", RANKINGS)
        if not (self.layers or self.channels):
            raise ConfigError(
                "AdaptiveConfig has layers=False and channels=False: nothing could be pruned; "
                "enable at least one"
            )
        self._fraction("max_fraction")
        object.__setattr__(self, "units", tuple(self.units))
