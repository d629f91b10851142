"""Remove input features: keep some input channels (tabular columns, image channels) of every
layer that reads the model's input directly. The pruned model then takes only those features."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from prunekit.core.edit.edits import ChannelEdit, Keep, PlanError, check_fields
from prunekit.core.edit.input_patches import patch_grid, patch_mask, patch_names, to_patches
from prunekit.core.edit.surgery import dim_size
from prunekit.core.model.hooks import run_hooked
from prunekit.core.model.inputs import ExampleInputs, tensors_of
from prunekit.errors import InputError, PrunekitError

_READERS = (nn.Linear, nn.modules.conv._ConvNd)


def input_readers(model: nn.Module, example_inputs: ExampleInputs) -> list[str]:
    """Paths of the layers whose input is one of the model's input tensors, as given."""
    given = {id(t) for t in tensors_of(example_inputs)}
    found: list[str] = []
    handles = []
    for path, module in model.named_modules():
        if isinstance(module, _READERS):

            def hook(_m: nn.Module, args: tuple[Any, ...], path: str = path) -> None:
                if args and id(args[0]) in given and path not in found:
                    found.append(path)

            handles.append(module.register_forward_pre_hook(hook))
    run_hooked(model, example_inputs, handles)
    return found


def input_feature_edits(
    model: nn.Module, keep: Sequence[int], example_inputs: ExampleInputs
) -> list[ChannelEdit]:
    """Edits keeping input features ``keep`` in every first layer. Refused when the input is
    transformed before any layer reads it (then its features are not a layer's columns)."""
    readers = input_readers(model, example_inputs)
    if not readers:
        raise PrunekitError(
            f"no Linear or Conv layer of {type(model).__name__} reads the model input directly "
            "(it is transformed first); input features can only be removed from a first layer"
        )
    edits = []
    for path in readers:
        size = dim_size(model.get_submodule(path), "in")
        kept = Keep(size, tuple(sorted(set(keep))))
        kept.check(f"input features of {path}")
        edits.append(ChannelEdit(path, None, kept))
    return edits


SELECTOR_ATTRIBUTE = "_prunekit_inputs"
AXES = ("flat", "channel", "patch")


@dataclass(frozen=True)
class FeatureSelector:
    """Turns full inputs into the reduced inputs a feature-pruned model takes.

    ``shape`` is one sample's full input shape; ``axis="flat"`` keeps entries of the flattened
    sample (MLP pixels, tabular columns), ``"channel"`` keeps entries of its first dimension
    (image channels), ``"patch"`` keeps ``patch`` x ``patch`` regions of a (C, H, W) image,
    numbered row-major over the patch grid, and gives them as (N, C, patch*patch, kept) (see
    core/edit/input_patches.py). ``names`` optionally names every full feature along that axis."""

    shape: tuple[int, ...]
    axis: str
    keep: tuple[int, ...]
    names: tuple[str, ...] | None = None
    patch: int | None = None

    @property
    def size(self) -> int:
        if self.axis == "patch":
            return math.prod(patch_grid(self.shape, self.patch or 0))
        return math.prod(self.shape) if self.axis == "flat" else self.shape[0]

    @property
    def mask(self) -> torch.Tensor:
        """Boolean, in the shape of one full sample: True where a feature is kept."""
        if self.axis == "patch":
            return patch_mask(self.shape, self.patch or 0, self.keep)
        mask = torch.zeros(self.size, dtype=torch.bool)
        mask[list(self.keep)] = True
        if self.axis == "flat":
            return mask.reshape(self.shape)
        return mask.reshape(-1, *([1] * (len(self.shape) - 1))).expand(self.shape)

    @property
    def kept_names(self) -> list[str]:
        names = self.names
        if names is None and self.axis == "patch":
            names = patch_names(self.shape, self.patch or 0)
        return [names[i] for i in self.keep] if names else [str(i) for i in self.keep]

    def __call__(self, inputs: Any) -> Any:
        """Reduce a batch (tensor or numpy array, batch first) of full inputs."""
        if tuple(inputs.shape[1:]) != tuple(self.shape):
            raise InputError(
                f"the feature selector expects batches of full inputs of shape (N, "
                f"{', '.join(map(str, self.shape))}), got {tuple(inputs.shape)}"
            )
        index = list(self.keep)
        if self.axis == "patch":
            return to_patches(inputs, self.patch or 0)[..., index]
        if self.axis == "flat":
            return inputs.reshape(inputs.shape[0], -1)[:, index]
        return inputs[:, index]

    def batches(self, data: Iterable[Any]) -> Iterator[Any]:
        """Reduced batches of a DataLoader of (inputs, targets, ...) or bare inputs."""
        for batch in data:
            if isinstance(batch, list | tuple):
                yield (self(batch[0]), *batch[1:])
            else:
                yield self(batch)


def feature_selector(model: nn.Module) -> FeatureSelector | None:
    """The selector of a feature-pruned model (also after pk.load), or None."""
    selector = getattr(model, SELECTOR_ATTRIBUTE, None)
    return selector if isinstance(selector, FeatureSelector) else None


class _FullInputsGuard:
    """A forward pre-hook on a feature-pruned model: full inputs (the shape before selection)
    are refused with the fix, instead of a shape error deep inside the first layer."""

    def __init__(self, selector: FeatureSelector) -> None:
        self.selector = selector

    def __call__(self, _module: nn.Module, args: tuple[Any, ...]) -> None:
        first = args[0] if args else None
        shape = tuple(self.selector.shape)
        if isinstance(first, torch.Tensor) and tuple(first.shape[1:]) == shape:
            raise InputError(
                f"this feature-pruned model takes only the kept inputs ({len(self.selector.keep)} "
                f"of {self.selector.size} {self.selector.axis} features); it got full inputs of "
                f"shape {tuple(first.shape)}; fix: model(pk.feature_selector(model)(x))"
            )


@dataclass(frozen=True)
class InputsEdit:
    """Record, in the plan, which input features the model takes (its FeatureSelector)."""

    op: ClassVar[str] = "inputs"
    selector: FeatureSelector

    def apply(self, model: nn.Module, where: str) -> None:
        object.__setattr__(model, SELECTOR_ATTRIBUTE, self.selector)
        hooks = model._forward_pre_hooks
        for key in [k for k, hook in hooks.items() if isinstance(hook, _FullInputsGuard)]:
            del hooks[key]
        model.register_forward_pre_hook(_FullInputsGuard(self.selector))

    def to_json(self) -> dict[str, Any]:
        s = self.selector
        return {
            "op": self.op,
            "shape": list(s.shape),
            "axis": s.axis,
            "keep": list(s.keep),
            "names": list(s.names) if s.names else None,
            "patch": s.patch,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> InputsEdit:
        check_fields(data, {"op", "shape", "axis", "keep", "names", "patch"}, where)
        shape, axis, names = data.get("shape"), data.get("axis"), data.get("names")
        patch = data.get("patch")
        if not isinstance(shape, list) or not all(isinstance(i, int) and i > 0 for i in shape):
            raise PlanError(f"{where}: 'shape' must be a list of positive integers")
        if axis not in AXES:
            raise PlanError(f"{where}: 'axis' must be one of {AXES}")
        if (axis == "patch") != isinstance(patch, int) or (patch is not None and patch < 1):
            raise PlanError(
                f"{where}: 'patch' must be a positive integer when axis is patch, else null"
            )
        try:
            size = FeatureSelector(tuple(shape), axis, (), None, patch).size
        except PrunekitError as exc:
            raise PlanError(f"{where}: {exc}") from exc
        keep = Keep.from_json({"size": size, "keep": data.get("keep")}, where)
        keep.check(where)
        if names is not None and (
            not isinstance(names, list)
            or len(names) != size
            or not all(isinstance(n, str) for n in names)
        ):
            raise PlanError(f"{where}: 'names' must be null or {size} strings")
        names = tuple(names) if names else None
        return cls(FeatureSelector(tuple(shape), axis, keep.indices, names, patch))
