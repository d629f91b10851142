"""Target: the fraction of the original model to keep, at most: of its parameters, MACs,
layers, input features or measured latency."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from prunekit.errors import ConfigError

FIELDS = ("params", "macs", "layers", "features", "latency")


@dataclass(frozen=True)
class Target:
    """Keep at most this fraction of the original model's params, MACs, layers, features or
    latency.

    ``Target(params=0.5)`` keeps at most half the parameters. ``layers`` counts the method's
    prunable units, ``features`` the input features. ``latency`` is the measured forward time on
    the example inputs (their batch), the model's device and dtype and the method's thread count:
    ``Target(latency=0.5)`` asks for at least a 2x speed-up (channel pruning; see
    docs/guide.md, "Latency as a target"). Each value is in (0, 1]; 1 keeps everything.
    """

    params: float | None = None
    macs: float | None = None
    layers: float | None = None
    features: float | None = None
    latency: float | None = None

    def __post_init__(self) -> None:
        given = {name: getattr(self, name) for name in FIELDS if getattr(self, name) is not None}
        if not given:
            raise ConfigError(
                "Target needs at least one of params, macs, layers, features, latency, "
                "e.g. pk.Target(params=0.5) to keep at most half the parameters"
            )
        for name, value in given.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"Target.{name} is {value!r}; expected a fraction in (0, 1]")
            if not 0.0 < float(value) <= 1.0:
                raise ConfigError(
                    f"Target.{name} is {value}; it is the fraction of the original to KEEP and "
                    "must be in (0, 1] (0 would remove everything; use 0.5 to keep half)"
                )

    def given(self) -> dict[str, float]:
        return {n: float(getattr(self, n)) for n in FIELDS if getattr(self, n) is not None}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise ConfigError(
                f"Target has unknown fields {sorted(unknown)}; known: {', '.join(FIELDS)}"
            )
        return cls(**data)
