"""How to rebuild a model: its base (``ModelSpec``, recorded in base.json) and every plan edit
applied to it since (its lineage, recorded in plan.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from prunekit.core.edit.plan import Plan
from prunekit.errors import ConfigError

SOURCES = ("zoo", "torchvision", "timm", "hf_config", "hf_path")
SPEC_ATTRIBUTE = "_prunekit_spec"
PLAN_ATTRIBUTE = "_prunekit_plan"


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


def attach_plan(model: nn.Module, plan: Plan) -> nn.Module:
    """Remember on ``model`` every edit applied to its base, in order (pruning an already pruned
    model appends), so that pk.save writes the whole lineage."""
    object.__setattr__(model, PLAN_ATTRIBUTE, Plan(list(plan.edits)))
    return model


def plan_of(model: nn.Module) -> Plan:
    """A copy of the edits applied to ``model``'s base (empty for an unpruned model)."""
    plan = getattr(model, PLAN_ATTRIBUTE, None)
    return Plan(list(plan.edits)) if isinstance(plan, Plan) else Plan()


def has_plan(model: nn.Module) -> bool:
    return isinstance(getattr(model, PLAN_ATTRIBUTE, None), Plan)
