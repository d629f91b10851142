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

from prunekit.errors import ConfigError
from prunekit.methods.config_base import decode
from prunekit.methods.registry import entry_named


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
    """``config`` with the given fields replaced where it has them, in nested configs too
    (DoubleConfig's channel and basis)."""
    changes = {}
    for f in dataclasses.fields(config):
        current = getattr(config, f.name)
        if f.name in values:
            changes[f.name] = values[f.name]
        elif dataclasses.is_dataclass(current) and not isinstance(current, type):
            changes[f.name] = _with(current, **values)
    return dataclasses.replace(config, **changes)


def build_config(method: str, fields: dict[str, Any], where: str) -> Any:
    """The config of the registered method ``method`` from a recipe's mapping."""
    return decode(entry_named(method).config, fields, f"recipe field {where}")


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
