"""Layer removal: replace whole residual blocks by identity, only where that is shape-safe."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from prunekit.core.inputs import ExampleInputs, call_model
from prunekit.core.modes import eval_mode
from prunekit.core.plan import RemoveEdit
from prunekit.core.surgery import get_module
from prunekit.errors import PrunekitError


def block_shapes(
    model: nn.Module, paths: Sequence[str], example_inputs: ExampleInputs
) -> dict[str, list[tuple[Any, Any]]]:
    """(input shape, output shape) of every call of each block during one forward pass."""
    calls: dict[str, list[tuple[Any, Any]]] = {path: [] for path in paths}
    handles = []
    for path in paths:

        def hook(_m: nn.Module, args: tuple[Any, ...], output: Any, path: str = path) -> None:
            first = args[0] if args else None
            calls[path].append((_shape(first), _shape(output)))

        handles.append(get_module(model, path).register_forward_hook(hook))
    try:
        with eval_mode(model), torch.no_grad():
            call_model(model, example_inputs)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _shape(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, tuple | list):
        return tuple(_shape(v) for v in value)
    return type(value).__name__


def removal_edits(
    model: nn.Module, paths: Sequence[str], example_inputs: ExampleInputs
) -> list[RemoveEdit]:
    """Edits replacing each block by identity. A block that changes the shape of what flows
    through it (a stride, a channel change, a downsample) or is never called is refused with a
    clear error: dropping it would silently break or change the model."""
    if len(set(paths)) != len(paths):
        raise PrunekitError(f"blocks to remove are listed twice: {sorted(paths)}")
    calls = block_shapes(model, paths, example_inputs)
    for path, shapes in calls.items():
        if not shapes:
            raise PrunekitError(
                f"block {path!r} is never called on the example inputs; "
                "removing it would change nothing"
            )
        for inp, out in shapes:
            if inp != out:
                raise PrunekitError(
                    f"block {path!r} changes the shape of its input {inp} to {out} (a stride, "
                    "a channel change or a downsample): it cannot be replaced by identity; "
                    "keep it, or remove only blocks whose input and output shapes agree"
                )
    return [RemoveEdit(path) for path in paths]
