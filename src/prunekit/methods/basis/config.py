"""BasisConfig and DoubleConfig: basis scaling and double pruning (arXiv 2108.02893)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from prunekit.core.budget.target import Target
from prunekit.errors import ConfigError
from prunekit.methods.channel.config import ChannelConfig
from prunekit.methods.config_base import LatencyTargetConfig, MethodConfig

EXPORTS = ("params", "latency")


@dataclass(frozen=True)
class BasisConfig(LatencyTargetConfig):
    """Decompose every ungrouped conv and linear layer (the output head excepted) by SVD into
    orthonormal basis filters, a trainable scale per basis and a frozen back-projection; train
    the scales, the head and (``train_bn``) the batch-norm affines for ``epochs``; rank the
    bases by Taylor importance I_j = (mean over batches of dL/ds_j * s_j)^2 and remove the
    lowest, globally (``normalize=True``: scores divided by their layer's mean), until
    ``target`` (params and/or MACs, fractions of the ORIGINAL model) is met.

    ``export``: how each decomposed layer leaves as stock layers. ``"params"``: the basis
    k x k layer and a 1 x 1 back-projection where the kept rank holds fewer weights than the
    original layer, else one layer of the original shape (merged back). ``"latency"``: split
    only where that also runs faster than the merged layer, timed per layer on its input with
    the latency tables (docs/guide.md, "Latency as a target"; the model's device and dtype,
    torch's thread count); a layer that runs faster merged is merged and counted whole, so
    the target is met by the other layers. ``latency_threads``: the threads it is timed with
    (default torch's count).

    ``ignore``: fnmatch patterns of layer paths to leave as they are. ``checkpoint_dir``: the
    scale training writes a checkpoint every epoch there; a call with the same arguments resumes
    after the last finished epoch with the weights of an uninterrupted run.
    """

    target: Target
    epochs: int = 5
    lr: float = 1e-2
    train_bn: bool = True
    normalize: bool = False
    ignore: tuple[str, ...] = ()
    seed: int = 0
    checkpoint_dir: str | os.PathLike[str] | None = None
    export: str = "params"

    def __post_init__(self) -> None:
        if not isinstance(self.target, Target) or not (
            self.target.params is not None or self.target.macs is not None
        ):
            raise ConfigError("BasisConfig.target needs params= and/or macs=")
        if self.target.latency is not None:
            raise ConfigError(
                f"BasisConfig.target.latency is {self.target.latency}: basis pruning meets params "
                "and MACs; fix: export='latency' (split only where faster), and a latency target "
                "on channel pruning (pk.DoubleConfig(channel=pk.ChannelConfig(target="
                "pk.Target(latency=...)), basis=...))"
            )
        self._one_of("export", EXPORTS)
        self._check_latency_fields()
        self._at_least("epochs", 0)
        self._positive("lr")
        object.__setattr__(self, "ignore", tuple(self.ignore))


@dataclass(frozen=True)
class DoubleConfig(MethodConfig):
    """Double pruning: channel pruning through the core first, then basis pruning of the
    surviving layers; the basis target stays relative to the ORIGINAL model.

    Either ``channel=pk.ChannelConfig(...)`` and ``basis=pk.BasisConfig(...)``, or ``target=``
    alone (params and/or MACs): channel pruning (Taylor) then keeps min(2 x target, halfway
    between target and 1) of each, and basis pruning reaches the target. For the targets of the
    basis benchmark (0.025-0.2 of the params) that is the split it measured: channel pruning
    to twice the target (docs/methods/basis.md). ``seed`` seeds both derived configs;
    ``checkpoint_dir`` (either form) is where the basis stage's training checkpoints go (channel
    pruning does not train), replacing the basis config's own.

    A latency target goes in the channel stage (``channel=pk.ChannelConfig(target=
    pk.Target(latency=...))``), best with ``basis=pk.BasisConfig(..., export="latency")`` so no
    layer is split where that runs slower; the final model is timed against the original again
    (``result.details["latency"]["final"]``): one slower than the original is an error, one
    above the target a warning.
    """

    channel: ChannelConfig | None = None
    basis: BasisConfig | None = None
    target: Target | None = None
    seed: int = 0
    checkpoint_dir: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        if self.target is not None:
            if self.channel is not None or self.basis is not None:
                raise ConfigError(
                    "DoubleConfig takes target= alone, or channel= and basis=; fix: drop target "
                    "or the two stage configs"
                )
            if not isinstance(self.target, Target) or set(self.target.given()) - {
                "params",
                "macs",
            }:
                raise ConfigError(
                    f"DoubleConfig.target is {self.target!r}; expected pk.Target(params=...) "
                    "and/or macs=..."
                )
        elif not isinstance(self.channel, ChannelConfig) or not isinstance(self.basis, BasisConfig):
            raise ConfigError(
                "DoubleConfig takes channel=pk.ChannelConfig(...) and basis=pk.BasisConfig(...), "
                "or target=pk.Target(...) alone"
            )

    def stages(self) -> tuple[ChannelConfig, BasisConfig]:
        """The channel and basis configs: as given, or derived from ``target``."""
        if self.target is None:
            assert self.channel is not None and self.basis is not None
            channel, basis = self.channel, self.basis
        else:
            given = self.target.given()
            first = Target(**{k: min(2 * v, (1 + v) / 2) for k, v in given.items()})
            channel = ChannelConfig(target=first, importance="taylor", seed=self.seed)
            basis = BasisConfig(target=self.target, seed=self.seed)
        if self.checkpoint_dir is not None:
            basis = dataclasses.replace(basis, checkpoint_dir=self.checkpoint_dir)
        return channel, basis
