"""SGLPConfig: similarity-guided layer partition pruning (arXiv 2410.14720)."""

from __future__ import annotations

from dataclasses import dataclass

from prunekit.core.budget.layer_count import check_target
from prunekit.core.budget.target import Target
from prunekit.errors import ConfigError
from prunekit.methods.config_base import LatencyTargetConfig
from prunekit.methods.sglp.cka import ESTIMATORS

SEQUENCES = ("colsum", "rows")
SELECTIONS = ("loss", "gradnorm", "gradnorm_max")


@dataclass(frozen=True)
class SGLPConfig(LatencyTargetConfig):
    """Partition the layer units into segments of similar representations (linear CKA, Fisher
    optimal segmentation), then in each segment keep the units whose removal leaves the
    network with the largest GradNorm.

    - ``target``: ``Target(layers=...)``, ``params`` or ``macs``; removals are spread over the
      segments in proportion to their removable units (never typed per segment).
    - ``segments``: the number of segments, or None for the loss-drop rule (relative drop >
      ``drop_threshold`` up to ``max_segments``, as the official code).
    - ``sequence``: segment the CKA column sums (``"colsum"``, official) or the full CKA rows.
    - ``estimator``: ``"unbiased"`` minibatch HSIC (default) or ``"biased"``.
    - ``cka_batches`` validation batches for CKA, ``score_batches`` training batches per
      GradNorm; subsets are searched exhaustively up to ``exhaustive_limit``, greedily beyond.
    - ``selection``: how a segment's subset is chosen, scoring the network with the subset
      removed on ``score_batches`` training batches: ``"loss"`` (default: the lowest
      training loss), ``"gradnorm"`` (the lowest GradNorm) or ``"gradnorm_max"`` (the
      largest, as the official code). Measured in docs/benchmarks.md; see
      docs/methods/sglp.md for why the default departs from the paper.
    """

    target: Target
    segments: int | None = None
    max_segments: int = 6
    drop_threshold: float = 0.05
    sequence: str = "colsum"
    estimator: str = "unbiased"
    cka_batches: int = 5
    score_batches: int = 8
    exhaustive_limit: int = 64
    selection: str = "loss"
    units: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        self._check_latency_fields()
        check_target(self.target, "SGLPConfig")
        if self.segments is not None and self.segments < 1:
            raise ConfigError(f"SGLPConfig.segments is {self.segments}; expected None or >= 1")
        for name in ("max_segments", "cka_batches", "score_batches", "exhaustive_limit"):
            self._at_least(name, 1)
        self._one_of("sequence", SEQUENCES)
        self._one_of("estimator", ESTIMATORS)
        self._one_of("selection", SELECTIONS)
        object.__setattr__(self, "units", tuple(self.units))
