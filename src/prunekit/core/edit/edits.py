"""Plan edits: one structural change each, as JSON, checked against the model it is applied to.

Channel and parameter edits keep indices relative to the module's size just before the edit;
attribute edits set what new shapes imply; remove and layers edits drop blocks; replace edits
swap a module for a sequence of stock layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from prunekit.core.edit.surgery import (
    dim_size,
    get_module,
    set_module,
    slice_module,
    slice_parameter,
)
from prunekit.errors import PrunekitError


class PlanError(PrunekitError, ValueError):
    """A plan is malformed, or does not fit the model it is applied to."""


@dataclass(frozen=True)
class Keep:
    """Keep ``indices`` (sorted, unique) of a dimension that has ``size`` entries."""

    size: int
    indices: tuple[int, ...]

    def check(self, where: str) -> None:
        idx = self.indices
        if not idx:
            raise PlanError(f"{where}: keeps no channel; at least one must remain")
        if list(idx) != sorted(set(idx)):
            raise PlanError(f"{where}: kept indices must be sorted and unique")
        if idx[0] < 0 or idx[-1] >= self.size:
            raise PlanError(
                f"{where}: kept index {idx[-1] if idx[-1] >= self.size else idx[0]} "
                f"is out of range for size {self.size}"
            )

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "keep": list(self.indices)}

    @classmethod
    def from_json(cls, data: Any, where: str) -> Keep:
        check_fields(data, {"size", "keep"}, where)
        size, keep = data["size"], data["keep"]
        if (
            not isinstance(size, int)
            or not isinstance(keep, list)
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in keep)
        ):
            raise PlanError(f"{where}: 'size' must be an integer and 'keep' a list of integers")
        return cls(size, tuple(keep))


@dataclass(frozen=True)
class ChannelEdit:
    """Keep some output and/or input channels of the module at ``path``."""

    op: ClassVar[str] = "channels"
    path: str
    out: Keep | None = None
    inp: Keep | None = None

    def apply(self, model: nn.Module, where: str) -> None:
        module = get_module(model, self.path)
        for dim, keep in (("out", self.out), ("in", self.inp)):
            if keep is None:
                continue
            keep.check(f"{where} ({self.path} {dim})")
            actual = dim_size(module, dim)
            if actual != keep.size:
                raise PlanError(
                    f"{where}: {self.path} has {actual} {dim}put channels, the plan expects "
                    f"{keep.size}; the plan was made for a different base model"
                )
        slice_module(
            module, self.path, self.out and self.out.indices, self.inp and self.inp.indices
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op, "path": self.path}
        if self.out is not None:
            data["out"] = self.out.to_json()
        if self.inp is not None:
            data["in"] = self.inp.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> ChannelEdit:
        check_fields(data, {"op", "path", "out", "in"}, where)
        out = Keep.from_json(data["out"], f"{where}.out") if "out" in data else None
        inp = Keep.from_json(data["in"], f"{where}.in") if "in" in data else None
        if out is None and inp is None:
            raise PlanError(f"{where}: a channels edit needs 'out' or 'in'")
        return cls(path_of(data, where), out, inp)


@dataclass(frozen=True)
class ParameterEdit:
    """Keep some entries along ``axis`` of a free parameter (a class token, a layer scale)."""

    op: ClassVar[str] = "parameter"
    path: str
    axis: int
    keep: Keep

    def apply(self, model: nn.Module, where: str) -> None:
        self.keep.check(f"{where} ({self.path})")
        tensors = dict(model.named_parameters())
        if self.path not in tensors:
            raise PlanError(f"{where}: parameter {self.path!r} does not exist in the model")
        shape = tuple(tensors[self.path].shape)
        if not 0 <= self.axis < len(shape) or shape[self.axis] != self.keep.size:
            raise PlanError(
                f"{where}: parameter {self.path} has shape {shape}, the plan expects "
                f"{self.keep.size} entries on axis {self.axis}"
            )
        slice_parameter(model, self.path, self.axis, self.keep.indices)

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "path": self.path, "axis": self.axis, **self.keep.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> ParameterEdit:
        check_fields(data, {"op", "path", "axis", "size", "keep"}, where)
        axis = data["axis"]
        if not isinstance(axis, int):
            raise PlanError(f"{where}: 'axis' must be an integer")
        keep = Keep.from_json({"size": data["size"], "keep": data["keep"]}, where)
        return cls(path_of(data, where), axis, keep)


Scalar = int | float | str | bool


@dataclass(frozen=True)
class AttrEdit:
    """Set a plain attribute (a head count, a hidden size) that the new shapes imply."""

    op: ClassVar[str] = "attribute"
    path: str
    name: str
    value: Scalar

    def apply(self, model: nn.Module, where: str) -> None:
        module: Any = get_module(model, self.path)
        name = self.name
        if name.startswith("config."):  # a model config (Hugging Face): fields may be unset
            module, name = getattr(module, "config", None), name.removeprefix("config.")
            if module is None or isinstance(module, nn.Module) or "." in name:
                raise PlanError(f"{where}: {self.path or 'the model'} has no config {name!r}")
            setattr(module, name, self.value)
            return
        old = getattr(module, name, None)
        if (
            old is None
            or isinstance(old, nn.Module | torch.Tensor)
            or type(old) is not type(self.value)
        ):
            raise PlanError(
                f"{where}: {self.path or 'the model'} has no plain "
                f"{type(self.value).__name__} attribute {self.name!r}"
            )
        setattr(module, name, self.value)

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "path": self.path, "name": self.name, "value": self.value}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> AttrEdit:
        check_fields(data, {"op", "path", "name", "value"}, where)
        name, value = data.get("name"), data.get("value")
        if not isinstance(name, str) or not isinstance(value, int | float | str | bool):
            raise PlanError(f"{where}: 'name' must be a string and 'value' a plain scalar")
        return cls(path_of(data, where), name, value)


@dataclass(frozen=True)
class RemoveEdit:
    """Replace the shape-preserving block at ``path`` by ``nn.Identity`` (layer removal)."""

    op: ClassVar[str] = "remove"
    path: str

    def apply(self, model: nn.Module, where: str) -> None:
        if not self.path:
            raise PlanError(f"{where}: the whole model cannot be removed")
        get_module(model, self.path)  # a clear error when it does not exist
        set_module(model, self.path, nn.Identity())

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "path": self.path}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> RemoveEdit:
        check_fields(data, {"op", "path"}, where)
        return cls(path_of(data, where))


def check_fields(data: Any, allowed: set[str], where: str) -> None:
    if not isinstance(data, dict):
        raise PlanError(f"{where}: expected a JSON object")
    unknown = set(data) - allowed
    if unknown:
        raise PlanError(f"{where}: unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}")


def path_of(data: dict[str, Any], where: str) -> str:
    path = data.get("path")
    if not isinstance(path, str):
        raise PlanError(f"{where}: 'path' must be a string")
    return path


def channel_edits(
    model: nn.Module,
    removals: Sequence[tuple[str, str, Sequence[int], bool]],
) -> list[ChannelEdit | ParameterEdit]:
    """Edits that remove, per (path, dim, local indices, is_parameter), merging removals that
    touch the same dimension so that every index refers to the model as it is now."""
    merged: dict[tuple[str, str, bool], set[int]] = {}
    for path, dim, indices, is_param in removals:
        merged.setdefault((path, dim, is_param), set()).update(indices)
    params = dict(model.named_parameters())
    by_module: dict[str, dict[str, Keep]] = {}
    edits: list[ChannelEdit | ParameterEdit] = []
    for (path, dim, is_param), removed in merged.items():
        if is_param:
            axis = int(dim)
            size = int(params[path].shape[axis])
            keep = Keep(size, tuple(i for i in range(size) if i not in removed))
            edits.append(ParameterEdit(path, axis, keep))
            continue
        size = dim_size(get_module(model, path), dim)
        by_module.setdefault(path, {})[dim] = Keep(
            size, tuple(i for i in range(size) if i not in removed)
        )
    for path, dims in by_module.items():
        edits.append(ChannelEdit(path, dims.get("out"), dims.get("in")))
    return edits
