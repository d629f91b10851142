"""Physical edits of modules: keep some output / input channels of a layer, or part of a tensor.

No torch-pruning here: these edits (through the layer table in ``core/edit/slicers.py``) are what
both pruning and plan replay run, so a model rebuilt from a plan is edited by exactly the code
that edited the original.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.edit.slicer_base import select, set_param
from prunekit.core.edit.slicers import slicer_for, slicer_of
from prunekit.errors import PrunekitError


def get_module(model: nn.Module, path: str) -> nn.Module:
    """The submodule at ``path``; a clear error naming the first missing part."""
    if path == "":
        return model
    module = model
    for part in path.split("."):
        child = getattr(module, part, None) if hasattr(module, part) else None
        if not isinstance(child, nn.Module):
            raise PrunekitError(
                f"module path {path!r} does not exist in {type(model).__name__} (no submodule "
                f"{part!r}); the plan or name refers to another model"
            )
        module = child
    return module


def set_module(model: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = get_module(model, parent_path)
    if isinstance(parent, nn.ModuleList | nn.Sequential) and name.isdigit():
        parent[int(name)] = new
    else:
        setattr(parent, name, new)


def dim_size(module: nn.Module, dim: str) -> int:
    """How many channels ``module`` has along ``dim`` ("out" or "in")."""
    out, inp = slicer_of(module).sizes(module)
    return out if dim == "out" else inp


def is_intra_coupled(module: nn.Module) -> bool:
    """Modules whose output channel i is computed from input channel i only."""
    slicer = slicer_for(module)
    return slicer is not None and slicer.intra_coupled(module)


def slice_module(
    module: nn.Module, path: str, keep_out: Sequence[int] | None, keep_in: Sequence[int] | None
) -> None:
    """Keep output channels ``keep_out`` and input channels ``keep_in`` of ``module``."""
    slicer = slicer_of(module, path)
    if slicer.intra_coupled(module):
        if keep_out is not None and keep_in is not None and list(keep_out) != list(keep_in):
            raise PrunekitError(
                f"{path}: {type(module).__name__} couples input and output "
                "channels, but the edit keeps different ones"
            )
        keep_out = keep_in = keep_out if keep_out is not None else keep_in
    slicer.slice(module, path, keep_out, keep_in)


def slice_parameter(model: nn.Module, path: str, axis: int, keep: Sequence[int]) -> None:
    """Keep entries ``keep`` of axis ``axis`` of the parameter at ``path``."""
    owner_path, _, name = path.rpartition(".")
    owner = get_module(model, owner_path)
    old = getattr(owner, name, None)
    if not isinstance(old, torch.Tensor):
        raise PrunekitError(f"parameter {path!r} does not exist in {type(model).__name__}")
    set_param(owner, name, select(old, axis, keep))
