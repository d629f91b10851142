"""Recipes: YAML naming the model, the data, the method and its config, the training budget,
the seeds and the output directory; validated with messages that name the field and value."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prunekit.core.target import Target
from prunekit.errors import ConfigError, UnknownNameError
from prunekit.methods.adaptive.config import AdaptiveConfig
from prunekit.methods.basis.config import BasisConfig, DoubleConfig
from prunekit.methods.channel.config import ChannelConfig
from prunekit.methods.features.config import FeatureConfig
from prunekit.methods.layers.config import LayerConfig
from prunekit.methods.sfp.config import CRSFPConfig, SFPConfig
from prunekit.methods.sglp.config import SGLPConfig

METHODS: dict[str, type] = {
    "channel": ChannelConfig,
    "basis": BasisConfig,
    "double": DoubleConfig,
    "adaptive": AdaptiveConfig,
    "sglp": SGLPConfig,
    "layers": LayerConfig,
    "sfp": SFPConfig,
    "crsfp": CRSFPConfig,
    "features": FeatureConfig,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Strict):
    """``name``: a zoo name (``efficientnet_lite0``, ``small_resnet``), a torchvision name
    (``resnet18``), ``timm:NAME``, or ``python:module:factory`` for your own model."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class DataSection(_Strict):
    """``name``: a zoo dataset (``digits``, ``mnist1d``, ...), ``imagefolder:PATH`` or
    ``torchvision:NAME`` (needs a network the first time)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(64, ge=1)


class TrainSection(_Strict):
    """Dense training (or transfer, for a pretrained model) before pruning; 0 epochs skips."""

    epochs: int = Field(0, ge=0)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class MethodSection(_Strict):
    name: str
    config: dict[str, Any] = Field(default_factory=dict)


class Recipe(_Strict):
    model: ModelSection
    data: DataSection
    method: MethodSection
    train: TrainSection = TrainSection()
    finetune: TrainSection = TrainSection()
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    output: str | None = None
    latency_threads: int = Field(1, ge=1)

    def method_config(self, seed: int) -> Any:
        """The method's config dataclass, with ``seed`` where the config takes one."""
        config = build_config(self.method.name, self.method.config, "method.config")
        return _with(config, seed=seed)

    def digest(self) -> str:
        """What identifies a run: the recipe without its output directory."""
        text = json.dumps(self.model_dump(exclude={"output"}), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _with(config: Any, **values: Any) -> Any:
    """``config`` with the given fields replaced where it has them (nested in DoubleConfig)."""
    names = {f.name for f in dataclasses.fields(config)}
    if isinstance(config, DoubleConfig):
        return DoubleConfig(_with(config.channel, **values), _with(config.basis, **values))
    return dataclasses.replace(config, **{k: v for k, v in values.items() if k in names})


def build_config(method: str, fields: dict[str, Any], where: str) -> Any:
    if method not in METHODS:
        raise UnknownNameError("method", method, list(METHODS), hint=" (recipe field method.name)")
    cls = METHODS[method]
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ConfigError(
            f"recipe field {where}.{unknown[0]} is not a field of {cls.__name__}; "
            f"known fields: {', '.join(known)}"
        )
    values = dict(fields)
    if isinstance(values.get("target"), dict):
        values["target"] = Target.from_dict(values["target"])
    if cls is DoubleConfig:
        for name, sub in (("channel", "channel"), ("basis", "basis")):
            if isinstance(values.get(name), dict):
                values[name] = build_config(sub, values[name], f"{where}.{name}")
    for name, value in values.items():  # YAML lists for tuple fields
        if isinstance(value, list):
            values[name] = tuple(value)
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"recipe field {where}: {exc}") from exc


PACKAGED = Path(__file__).resolve().parent.parent / "recipes"


def packaged_names() -> list[str]:
    return sorted(p.stem for p in PACKAGED.glob("*.yaml"))


def packaged_recipe(name: str) -> Recipe:
    return load_recipe(PACKAGED / f"{name}.yaml")


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read and validate a recipe (a YAML path, or the name of a packaged recipe such as
    ``demo``); errors name the file, the field and the value."""
    source = Path(path)
    if not source.is_file() and (PACKAGED / f"{source}.yaml").is_file():
        source = PACKAGED / f"{source}.yaml"
    if not source.is_file():
        raise ConfigError(
            f"recipe {source} does not exist; packaged recipes: {', '.join(packaged_names())}"
        )
    try:
        data = yaml.safe_load(source.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {source} is not valid YAML: {exc}") from exc
    return parse_recipe(data, str(source))


def parse_recipe(data: Any, where: str = "recipe") -> Recipe:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a YAML mapping with model, data and method")
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        value = first.get("input")
        shown = "" if first["type"] == "missing" else f" (value {value!r})"
        raise ConfigError(f"{where}: field {field}: {first['msg']}{shown}") from exc
    recipe.method_config(recipe.seeds[0])  # method config errors now, not after training
    return recipe
