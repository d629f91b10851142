"""Build torchvision and timm models by name; pretrained weights only where a network exists."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from torch import nn

from prunekit.errors import OfflineError, UnknownNameError
from prunekit.models.spec import ModelSpec, attach_spec


@cache
def torchvision_names() -> tuple[str, ...]:
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


@cache
def timm_names() -> tuple[str, ...]:
    import timm

    return tuple(timm.list_models())


def resolve_source(name: str) -> tuple[str, str]:
    """``"timm:resnet18"`` -> ("timm", "resnet18"); a bare name: torchvision first, then timm."""
    if ":" in name:
        source, _, bare = name.partition(":")
        if source in ("torchvision", "timm"):
            return source, bare
    if name in torchvision_names():
        return "torchvision", name
    if name in timm_names():
        return "timm", name
    raise UnknownNameError(
        "model",
        name,
        [],
        hint=(
            "zoo models (efficientnet_lite0, minilm), any torchvision classification model "
            "(torchvision.models.list_models()) or timm model (timm.list_models()), "
            "optionally prefixed 'torchvision:' or 'timm:'"
        ),
    )


def build_torchvision(name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    import torchvision

    if name not in torchvision_names():
        raise UnknownNameError("torchvision model", name, list(torchvision_names()))
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    if pretrained:
        model = _fetch(
            lambda: torchvision.models.get_model(name, weights="DEFAULT", **kwargs),
            f"torchvision {name}",
        )
    spec_kwargs = {"pretrained": True, **kwargs} if pretrained else dict(kwargs)
    return attach_spec(model, ModelSpec("torchvision", name, spec_kwargs))


def build_timm(name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    import timm

    if name not in timm_names():
        raise UnknownNameError("timm model", name, [], hint="see timm.list_models()")
    model = timm.create_model(name, pretrained=False, **kwargs)
    if pretrained:
        model = _fetch(lambda: timm.create_model(name, pretrained=True, **kwargs), f"timm {name}")
    spec_kwargs = {"pretrained": True, **kwargs} if pretrained else dict(kwargs)
    return attach_spec(model, ModelSpec("timm", name, spec_kwargs))


def _fetch(build: Callable[[], nn.Module], what: str) -> nn.Module:
    """Build with downloaded weights; the architecture was already checked, so a failure here
    is the download (no network, no cache)."""
    try:
        return build()
    except Exception as exc:
        raise OfflineError(_offline_message(what, exc)) from exc


def _offline_message(what: str, exc: Exception) -> str:
    return (
        f"could not fetch the pretrained weights of {what} ({exc}); this needs a network. "
        "Fix: connect and retry, build it with pretrained=False, or use an offline zoo model "
        "(pk.zoo.model('efficientnet_lite0') or pk.zoo.model('minilm'))"
    )
