"""Copies of a model that cost no memory per parameter: a structure whose tensors are shared
with the model (pruning replaces tensors, never writes into them, so the model is untouched),
and a skeleton whose tensors live on the ``meta`` device (shapes without storage)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


def shared_copy(model: nn.Module) -> nn.Module:
    """The modules of ``model`` copied, every parameter and buffer shared. Plan edits replace a
    module's tensors by new smaller ones (``slicer_base.set_param``), so a plan applied to the
    copy costs only the tensors it creates and leaves ``model`` as it was; writing into a
    shared tensor would change ``model`` too."""
    memo: dict[int, Any] = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return copy.deepcopy(model, memo)


def meta_skeleton(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers are meta tensors of the same shapes,
    dtypes and sharing (tied parameters stay one tensor); no tensor data is copied."""
    memo: dict[int, Any] = {}
    for tensor in model.parameters():
        memo[id(tensor)] = nn.Parameter(
            torch.empty_like(tensor, device="meta"), requires_grad=tensor.requires_grad
        )
    for tensor in model.buffers():
        memo[id(tensor)] = torch.empty_like(tensor, device="meta")
    return copy.deepcopy(model, memo)


def on_meta(inputs: Any) -> Any:
    """``inputs`` with every tensor moved to the meta device (structure kept)."""
    if isinstance(inputs, torch.Tensor):
        return inputs.to("meta")
    if isinstance(inputs, Mapping):  # dicts, and HF's BatchEncoding (a UserDict)
        return {k: on_meta(v) for k, v in inputs.items()}
    if isinstance(inputs, tuple) and hasattr(inputs, "_fields"):  # a namedtuple
        return type(inputs)(*(on_meta(v) for v in inputs))
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(on_meta(v) for v in inputs)  # type: ignore[call-arg]
    return inputs
