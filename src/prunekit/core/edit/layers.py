"""Layer removal: replace whole blocks by identity, or delete them from their layer list, only
where that is shape-safe."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from prunekit.core.edit.block_edits import LayersEdit
from prunekit.core.edit.edits import Keep, RemoveEdit
from prunekit.core.edit.surgery import get_module
from prunekit.core.model.hooks import first_input, hook_calls, run_hooked
from prunekit.core.model.inputs import ExampleInputs
from prunekit.errors import PrunekitError


def block_shapes(
    model: nn.Module, paths: Sequence[str], example_inputs: ExampleInputs
) -> dict[str, list[tuple[Any, Any]]]:
    """(input shape, output shape) of every call of each block during one forward pass."""
    calls: dict[str, list[tuple[Any, Any]]] = {path: [] for path in paths}

    def record(path: str, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        calls[path].append((_shape(first_input(args, kwargs)), _shape(_first_tensor(output))))

    run_hooked(model, example_inputs, hook_calls(model, paths, record))
    return calls


def _first_tensor(output: Any) -> Any:
    """A block's main output: itself, or the first item of a tuple (HF layers may return
    (hidden_states, attention weights))."""
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return output


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
    _check_shape_preserving(model, paths, example_inputs)
    return [RemoveEdit(path) for path in paths]


def drop_layers(
    model: nn.Module, path: str, drop: Sequence[int], example_inputs: ExampleInputs
) -> LayersEdit:
    """The edit deleting entries ``drop`` of the layer list at ``path`` (transformer layers of
    an HF model, timm ViT blocks, a Sequential of residual blocks). Each dropped layer must
    preserve the shape of what flows through it; HF ``layer_idx`` and config follow."""
    layers = get_module(model, path)
    if not isinstance(layers, nn.ModuleList | nn.Sequential):
        raise PrunekitError(
            f"{path!r} is a {type(layers).__name__}; drop_layers needs a ModuleList or "
            f"Sequential (candidates in this model: {layer_lists(model) or 'none'})"
        )
    bad = [i for i in drop if not 0 <= i < len(layers)]
    if bad or len(set(drop)) != len(drop) or len(set(drop)) >= len(layers):
        raise PrunekitError(
            f"cannot drop layers {sorted(drop)} of {path!r}, which has {len(layers)}: indices "
            "must be distinct, in range, and leave at least one layer"
        )
    prefix = f"{path}." if path else ""
    _check_shape_preserving(model, [f"{prefix}{i}" for i in drop], example_inputs)
    keep = tuple(i for i in range(len(layers)) if i not in set(drop))
    return LayersEdit(path, Keep(len(layers), keep))


def layer_lists(model: nn.Module) -> list[str]:
    """Paths of lists of at least two blocks of one type (transformer layers, ViT blocks)."""
    found = []
    for path, module in model.named_modules():
        if isinstance(module, nn.ModuleList | nn.Sequential) and len(module) >= 2:
            kinds = {type(m) for m in module}
            if len(kinds) == 1 and any(True for _ in next(iter(module)).parameters()):
                found.append(path)
    return found


def _check_shape_preserving(
    model: nn.Module, paths: Sequence[str], example_inputs: ExampleInputs
) -> None:
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
