"""LayerConfig: layer-importance baselines for removing whole layer units."""

from __future__ import annotations

from dataclasses import dataclass

from prunekit.core.budget.layer_count import check_target
from prunekit.core.budget.target import Target
from prunekit.methods.config_base import LatencyTargetConfig

CRITERIA = ("block_influence", "angular", "random", "last")


@dataclass(frozen=True)
class LayerConfig(LatencyTargetConfig):
    """Remove whole layer units (residual blocks, transformer layers) by a simple criterion.

    - ``criterion``: ``"block_influence"`` (ShortGPT: 1 - cos(input, output), lowest removed),
      ``"angular"`` (Gromov et al.: the run of consecutive units whose input and output are
      closest in angle, arccos(cos)/pi), ``"random"`` (seeded), ``"last"`` (drop the last N).
    - ``target``: ``Target(layers=...)`` (fraction of units to keep), ``params`` or ``macs``.
    - ``batches``: validation batches used for the scores; ``units``: paths, default automatic.
    """

    target: Target
    criterion: str = "block_influence"
    batches: int = 5
    units: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        self._check_latency_fields()
        check_target(self.target, "LayerConfig")
        self._one_of("criterion", CRITERIA)
        self._at_least("batches", 1)
        object.__setattr__(self, "units", tuple(self.units))
