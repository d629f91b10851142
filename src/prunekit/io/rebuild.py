"""Rebuild a saved model's structure: its base (a recorded spec, or the user's factory) with its
plan replayed. pk.load builds it for real; pk.save builds a weightless skeleton first, so that a
module whose structure cannot be reproduced is refused when it is saved, not when it is loaded."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from prunekit.errors import PrunekitError
from prunekit.io.format import SaveFormatError
from prunekit.models.build import build_from_spec
from prunekit.models.spec import ModelSpec

BaseFactory = Callable[[], nn.Module]


def build_base(spec: ModelSpec | None, base: BaseFactory | nn.Module | None) -> nn.Module:
    """The base model: from ``base`` (a factory or a fresh module) if given, else the spec."""
    if base is not None:
        model = base() if callable(base) and not isinstance(base, nn.Module) else base
        if not isinstance(model, nn.Module):
            raise PrunekitError("base= must be an nn.Module or a function returning one")
        return model
    if spec is None:
        raise SaveFormatError(
            "the save does not say how to rebuild the model (it was saved from a user-defined "
            "model); fix: pk.load(path, base=factory), factory building the unpruned model"
        )
    return build_from_spec(spec, weights=False)


def skeleton(spec: ModelSpec | None, base: BaseFactory | nn.Module | None) -> nn.Module:
    """The base with its tensors on the meta device (no memory, no init): built under
    ``torch.device("meta")``, or, for constructors that compute with tensors (``.item()`` on a
    linspace), on the CPU with every parameter moved to meta as it is made."""
    if isinstance(base, nn.Module):
        return copy.deepcopy(base).to("meta")
    try:
        with torch.device("meta"):
            return build_base(spec, base)
    except (NotImplementedError, RuntimeError):
        with _parameters_on_meta():
            return build_base(spec, base)


@contextmanager
def _parameters_on_meta() -> Iterator[None]:
    register = nn.Module.register_parameter

    def on_meta(module: nn.Module, name: str, param: Any) -> None:
        register(module, name, param)
        if param is not None:
            module._parameters[name] = nn.Parameter(
                param.to("meta"), requires_grad=param.requires_grad
            )

    nn.Module.register_parameter = on_meta  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = register  # type: ignore[method-assign]
