"""Example inputs: a tensor, a tuple of positional tensors, or a dict of keyword tensors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from prunekit.errors import InputError

ExampleInputs = torch.Tensor | Sequence[Any] | Mapping[str, Any]


def split_inputs(example_inputs: ExampleInputs) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Return ``(args, kwargs)`` for calling a model with ``example_inputs``."""
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,), {}
    if isinstance(example_inputs, Mapping):
        return (), dict(example_inputs)
    if isinstance(example_inputs, Sequence) and not isinstance(example_inputs, str):
        return tuple(example_inputs), {}
    raise InputError(
        f"example_inputs must be a tensor, a tuple of tensors or a dict of tensors, "
        f"got {type(example_inputs).__name__}; fix: pass e.g. torch.randn(1, 3, 224, 224)"
    )


def tensors_of(example_inputs: ExampleInputs) -> list[torch.Tensor]:
    """All tensors among the example inputs, in order."""
    args, kwargs = split_inputs(example_inputs)
    return [t for t in (*args, *kwargs.values()) if isinstance(t, torch.Tensor)]


def batch_size_of(example_inputs: ExampleInputs) -> int:
    tensors = tensors_of(example_inputs)
    return int(tensors[0].shape[0]) if tensors and tensors[0].dim() > 0 else 1


def call_model(model: nn.Module, example_inputs: ExampleInputs) -> Any:
    """Run ``model`` on ``example_inputs``; a mismatch becomes an InputError naming the shapes."""
    args, kwargs = split_inputs(example_inputs)
    try:
        return model(*args, **kwargs)
    except (RuntimeError, TypeError, ValueError, IndexError) as exc:
        shapes = describe_inputs(example_inputs)
        raise InputError(
            f"the model could not run on the example inputs {shapes}: {exc}; "
            "fix: pass example inputs with the shape and dtype the model expects"
        ) from exc


def describe_inputs(example_inputs: ExampleInputs) -> str:
    args, kwargs = split_inputs(example_inputs)

    def one(value: Any) -> str:
        if isinstance(value, torch.Tensor):
            return f"{tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}"
        return type(value).__name__

    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def model_device(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def primary_output(output: Any) -> torch.Tensor:
    """The first tensor of a model's output (a tensor, a tuple, a dict or a ModelOutput)."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "to_tuple"):
        output = output.to_tuple()
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, Sequence) and output:
        return primary_output(output[0])
    raise InputError(f"cannot find a tensor in the model output of type {type(output).__name__}")
