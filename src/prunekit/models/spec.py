"""ModelSpec: how to rebuild a model from scratch (recorded in base.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from prunekit.errors import ConfigError

SOURCES = ("zoo", "torchvision", "timm", "hf_config", "hf_path")
SPEC_ATTRIBUTE = "_prunekit_spec"


@dataclass(frozen=True)
class ModelSpec:
    """A JSON-able recipe for a model: its source, its name and constructor keyword arguments."""

    source: str
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(
                f"ModelSpec.source is {self.source!r}; expected one of {', '.join(SOURCES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        unknown = set(data) - {"source", "name", "kwargs"}
        if unknown:
            raise ConfigError(f"model spec has unknown fields {sorted(unknown)}")
        return cls(str(data["source"]), str(data["name"]), dict(data.get("kwargs") or {}))


def attach_spec(model: nn.Module, spec: ModelSpec) -> nn.Module:
    """Remember on ``model`` how it was built, so pk.save can write base.json by itself."""
    object.__setattr__(model, SPEC_ATTRIBUTE, spec)
    return model


def spec_of(model: nn.Module) -> ModelSpec | None:
    spec = getattr(model, SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, ModelSpec) else None
