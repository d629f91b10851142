"""FeatureConfig: induced feature selection by structured pruning (Hubens et al. 2023)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from prunekit.core.budget.target import Target
from prunekit.errors import ConfigError
from prunekit.methods.config_base import MethodConfig
from prunekit.methods.features.schedule import SCHEDULES

CRITERIA = ("magnitude", "taylor")


@dataclass(frozen=True)
class FeatureConfig(MethodConfig):
    """Sparse training that zeroes the weights reading whole input features (and, jointly,
    whole hidden neurons/channels), then removal of those features and weights.

    - ``target``: ``Target(features=...)``: the fraction of input features to keep (the first
      Linear layer's columns, or the first Conv's input channels).
    - ``hidden``: the fraction of every hidden group's neurons/channels to remove as well.
    - ``criterion``: ``"magnitude"`` (mean |w| of a feature's column) or ``"taylor"``
      (|sum of w * dL/dw| over it, from the current batch).
    - ``schedule``: ``"one_cycle"`` (default, Hubens), ``"one_shot"``, ``"iterative"``,
      ``"agp"``; masks are updated before every step and re-applied after it.
    - ``epochs``, ``lr``, ``weight_decay``: the sparse training (AdamW). Retrain the returned
      model afterwards (``prunekit.train.fit``) with the budget you give the baselines.
    - ``feature_names``: names of the full input features, for the ranked list.
    - ``patch``: select ``patch`` x ``patch`` regions of an image instead (ConvNets): a trainable
      input-mask value per region is pruned; the returned model takes only the kept regions,
      shaped (N, C, patch*patch, kept), through stock layers before its first conv.
    - ``checkpoint_dir``: the sparse training writes a checkpoint every epoch there (weights,
      optimiser, masks' state); a call with the same arguments resumes after the last finished
      epoch with the weights of an uninterrupted run.
    """

    target: Target
    hidden: float = 0.0
    criterion: str = "magnitude"
    schedule: str = "one_cycle"
    epochs: int = 30
    lr: float = 2e-3
    weight_decay: float = 0.0
    feature_names: tuple[str, ...] | None = None
    patch: int | None = None
    seed: int = 0
    checkpoint_dir: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.target, Target) or self.target.features is None:
            raise ConfigError(
                "FeatureConfig.target needs features=, the fraction of input features to keep "
                "(e.g. pk.Target(features=0.25))"
            )
        self._fraction("hidden", low_closed=True)
        self._one_of("criterion", CRITERIA)
        self._one_of("schedule", SCHEDULES)
        self._at_least("epochs", 1)
        self._positive("lr")
        if self.patch is not None and (
            isinstance(self.patch, bool) or not isinstance(self.patch, int) or self.patch < 1
        ):
            raise ConfigError(
                f"FeatureConfig.patch is {self.patch!r}; expected None or a positive integer "
                "(the side of the square input regions, e.g. 2)"
            )
        if self.feature_names is not None:
            object.__setattr__(self, "feature_names", tuple(self.feature_names))
