"""Compare the structure of two modules: the names and shapes of their state dicts."""

from __future__ import annotations

from torch import nn


def structure_difference(model: nn.Module, rebuilt: nn.Module) -> str | None:
    """The first state-dict entry whose name or shape differs, in words; None when all agree."""
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    for name, shape in ours.items():
        if name not in theirs:
            return f"{name} {list(shape)} is not in the rebuilt model"
        if theirs[name] != shape:
            return f"{name} is {list(shape)}, the rebuilt model has {list(theirs[name])}"
    for name, shape in theirs.items():
        if name not in ours:
            return f"the rebuilt model has {name} {list(shape)}, which the model lacks"
    return None
