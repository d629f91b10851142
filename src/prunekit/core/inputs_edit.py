"""Remove input features: keep some input channels (tabular columns, image channels) of every
layer that reads the model's input directly. The pruned model then takes only those features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from prunekit.core.edits import ChannelEdit, Keep
from prunekit.core.inputs import ExampleInputs, call_model, tensors_of
from prunekit.core.modes import eval_mode
from prunekit.core.surgery import dim_size
from prunekit.errors import PrunekitError

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
    try:
        with eval_mode(model), torch.no_grad():
            call_model(model, example_inputs)
    finally:
        for handle in handles:
            handle.remove()
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
