"""SFPConfig and CRSFPConfig: soft filter pruning, and its consistent-representation variant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from prunekit.core.budget.target import Target
from prunekit.errors import ConfigError
from prunekit.methods.config_base import LatencyTargetConfig

CRITERIA = ("l2", "fpgm", "taylor")
KINDS = {"params", "macs", "latency"}  # what a target may name


@dataclass(frozen=True)
class SFPConfig(LatencyTargetConfig):
    """Soft Filter Pruning (He et al. 2018) over the core's channel groups, trained here.

    - ``rate``: the fraction of every group's channels masked (per group, uniform), in [0, 1);
      0.3 when neither it nor ``target`` is given.
    - ``target``: ``pk.Target(params=...)``, ``macs=`` and/or ``latency=``, relative to the
      model given to ``pk.prune``: the smallest uniform rate whose exported model meets it is
      chosen before training (bisection, 2% tolerance). Which channels go does not change the
      exported shapes, so a latency target is predicted from the layer tables and the exported
      shapes are timed against the original before training, searched again while above the
      target (as for channel pruning). Give ``rate`` or ``target``, not both.
    - ``latency_threads``, ``latency_refresh``: see ``LatencyTargetConfig``.
    - ``criterion``: ``"l2"`` (filter norm), ``"fpgm"`` (geometric median) or ``"taylor"``.
    - ``epochs``, ``lr``, ``momentum``, ``weight_decay``, ``nesterov``: SGD with a cosine
      schedule; masks are computed before training and after every epoch, the masked filters
      zeroed and free to regrow.
    - ``fold_norms``: score a filter followed by a batch norm with that norm's scale
      gamma / sqrt(var + eps) folded in (the filter the deployed network uses). The raw norm
      is arbitrary behind a batch norm, and a zeroed filter regrows to many times its peers'
      norm within steps (its channel's variance is 0, so the norm divides its gradient by
      sqrt(eps)), which makes raw L2 keep the regrown filters and zero the trained ones.
      ``False``: the raw filters, as in the papers' code.
    - ``checkpoint_dir``: a checkpoint after every epoch; a run with the same directory resumes.
    - ``amp``: mixed precision on CUDA (ignored on CPU). ``progress``: a progress bar.
    """

    rate: float | None = None
    criterion: str = "l2"
    epochs: int = 30
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    fold_norms: bool = True
    checkpoint_dir: str | None = None
    amp: bool = True
    progress: bool = False
    seed: int = 0
    target: Target | None = None

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.target is not None:
            if self.rate is not None:
                raise ConfigError(
                    f"{name} takes rate= or target=, not both (rate={self.rate}, "
                    f"target={self.target}); fix: drop one"
                )
            if not isinstance(self.target, Target) or set(self.target.given()) - KINDS:
                raise ConfigError(
                    f"{name}.target is {self.target!r}; expected pk.Target(params=...), macs=... "
                    "and/or latency=... (SFP removes channels, not layers or input features)"
                )
            return self._check_training()
        if self.rate is None:
            object.__setattr__(self, "rate", 0.3)
        self._fraction("rate", low_closed=True)
        self._check_training()

    def _check_training(self) -> None:
        self._check_latency_fields()
        self._one_of("criterion", CRITERIA)
        self._at_least("epochs", 1)
        self._positive("lr")


@dataclass(frozen=True)
class CRSFPConfig(SFPConfig):
    """CR-SFP (Xiang et al. 2023): a pruned (P-NN) and a reconstructed (R-NN) head on a shared
    backbone, two augmented views, loss CE(P) + CE(R) + alpha/2 [KL(sg(p_R)||p_P) +
    KL(sg(p_P)||p_R)]. ``symmetric`` also swaps the views and averages. ``augment`` makes one
    view of a batch of inputs (default: random shift and small noise, for signals and images)."""

    alpha: float = 1.0
    symmetric: bool = False
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None
