"""Rebuild a model from its recorded spec (base.json): one builder per spec source. torchvision,
timm and Hugging Face configs are built here; the zoo registers its own builder when it is
imported (``import prunekit`` does), so io/ can rebuild a base without importing the zoo."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from prunekit.errors import PrunekitError
from prunekit.models.hf import build_hf
from prunekit.models.registry import build_timm, build_torchvision
from prunekit.models.spec import ModelSpec, attach_spec

Builder = Callable[[ModelSpec, bool], nn.Module]  # (spec, with pretrained weights) -> model


def without_pretrained(spec: ModelSpec, weights: bool) -> dict:
    """The spec's arguments, with ``pretrained=False`` when weights are not wanted."""
    kwargs = dict(spec.kwargs)
    if not weights and "pretrained" in kwargs:
        kwargs["pretrained"] = False
    return kwargs


BUILDERS: dict[str, Builder] = {
    "torchvision": lambda spec, w: build_torchvision(spec.name, **without_pretrained(spec, w)),
    "timm": lambda spec, w: build_timm(spec.name, **without_pretrained(spec, w)),
    "hf_config": lambda spec, w: build_hf(spec),
}


def register_builder(source: str, builder: Builder) -> None:
    BUILDERS[source] = builder


def build_from_spec(spec: ModelSpec, weights: bool = True) -> nn.Module:
    """The model a spec describes, with the spec attached. ``weights=False`` skips pretrained
    weights (for pk.load, which loads its own)."""
    builder = BUILDERS.get(spec.source)
    if builder is None:
        raise PrunekitError(
            f"model spec source {spec.source!r} is not buildable here (known: "
            f"{', '.join(sorted(BUILDERS))}); fix: import the package that registers it, or "
            "pass base=factory"
        )
    return attach_spec(builder(spec, weights), spec)
