"""Tied parameters (one tensor used by several modules: input and output embeddings of a
language model) stay one tensor through structural edits, which slice each module separately."""

from __future__ import annotations

import torch
from torch import nn

from prunekit.errors import PrunekitError


def tied_parameters(model: nn.Module) -> list[list[str]]:
    """Names of every parameter shared by two or more places, one list per shared tensor."""
    names: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(param), []).append(name)
    return [group for group in names.values() if len(group) > 1]


def retie(model: nn.Module, groups: list[list[str]], where: str) -> None:
    """Make each group one tensor again after edits sliced its places one by one. The places
    must have been edited alike (same shape and values), else the edit untied them for real."""
    for group in groups:
        places = [(name, *_owner(model, name)) for name in group]
        present = [(n, o, a) for n, o, a in places if o is not None]
        if len(present) < 2:
            continue
        first_name, owner, attr = present[0]
        first = getattr(owner, attr)
        for name, other_owner, other_attr in present[1:]:
            other = getattr(other_owner, other_attr)
            if other is first:
                continue
            same = other.shape == first.shape and (
                first.is_meta or other.is_meta or torch.equal(other, first)
            )
            if not same:
                raise PrunekitError(
                    f"{where}: {first_name} and {name} are one tied tensor, but the edits made "
                    f"them differ ({list(first.shape)} vs {list(other.shape)}); they must be "
                    "pruned together"
                )
            setattr(other_owner, other_attr, first)


def _owner(model: nn.Module, name: str) -> tuple[nn.Module | None, str]:
    path, _, attr = name.rpartition(".")
    try:
        owner = model.get_submodule(path)
    except AttributeError:
        return None, attr
    return (owner, attr) if isinstance(getattr(owner, attr, None), nn.Parameter) else (None, attr)
