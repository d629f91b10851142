"""BasisConfig and DoubleConfig: basis scaling and double pruning (arXiv 2108.02893)."""

from __future__ import annotations

from dataclasses import dataclass

from prunekit.core.target import Target
from prunekit.errors import ConfigError
from prunekit.methods.channel.config import ChannelConfig


@dataclass(frozen=True)
class BasisConfig:
    """Decompose every ungrouped conv and linear layer (the output head excepted) by SVD into
    orthonormal basis filters, a trainable scale per basis and a frozen back-projection; train
    the scales, the head and (``train_bn``) the batch-norm affines for ``epochs``; rank the
    bases by Taylor importance I_j = (mean over batches of dL/ds_j * s_j)^2 and remove the
    lowest, globally (``normalize=True``: scores divided by their layer's mean), until
    ``target`` (params and/or MACs, fractions of the ORIGINAL model) is met.

    ``ignore``: fnmatch patterns of layer paths to leave as they are.
    """

    target: Target
    epochs: int = 5
    lr: float = 1e-2
    train_bn: bool = True
    normalize: bool = False
    ignore: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.target, Target) or not (
            self.target.params is not None or self.target.macs is not None
        ):
            raise ConfigError("BasisConfig.target needs params= and/or macs=")
        if self.epochs < 0 or self.lr <= 0:
            raise ConfigError(f"BasisConfig(epochs={self.epochs}, lr={self.lr}): need >= 0, > 0")
        object.__setattr__(self, "ignore", tuple(self.ignore))


@dataclass(frozen=True)
class DoubleConfig:
    """Double pruning: ``channel`` pruning through the core first, then ``basis`` pruning of
    the surviving layers; ``basis.target`` stays relative to the ORIGINAL model."""

    channel: ChannelConfig
    basis: BasisConfig

    def __post_init__(self) -> None:
        if not isinstance(self.channel, ChannelConfig) or not isinstance(self.basis, BasisConfig):
            raise ConfigError(
                "DoubleConfig takes channel=pk.ChannelConfig(...), basis=pk.BasisConfig(...)"
            )
