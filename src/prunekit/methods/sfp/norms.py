"""Which batch norm normalises which producer's output, and the filter rows with that batch
norm folded in: behind a batch norm a filter's own norm is arbitrary (the layer is invariant to
it), so it says nothing about the channel; the folded filter is what the deployed network uses."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prunekit.core.hooks import run_hooked
from prunekit.core.inputs import ExampleInputs

BATCH_NORM = nn.modules.batchnorm._BatchNorm
PRODUCERS = (nn.modules.conv._ConvNd, nn.Linear)


def following_norms(model: nn.Module, example_inputs: ExampleInputs) -> dict[str, str]:
    """{producer path: path of the batch norm that reads exactly its output}."""
    produced: dict[int, tuple[str, torch.Tensor]] = {}  # the tensor held: ids stay unique
    pairs: dict[str, str] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, PRODUCERS):

            def record(_m: nn.Module, _a: Any, out: Any, name: str = name) -> None:
                if isinstance(out, torch.Tensor):
                    produced[id(out)] = (name, out)

            handles.append(module.register_forward_hook(record))
        elif isinstance(module, BATCH_NORM) and module.track_running_stats:

            def pair(_m: nn.Module, args: tuple[Any, ...], name: str = name) -> None:
                source = produced.get(id(args[0])) if args else None
                if source is not None and source[1] is args[0]:
                    pairs[source[0]] = name

            handles.append(module.register_forward_pre_hook(pair))
    run_hooked(model, example_inputs, handles)
    return pairs


def folded_scale(norm: nn.Module) -> torch.Tensor:
    """|gamma| / sqrt(running_var + eps) per channel: the factor the norm applies to a filter."""
    gamma = norm.weight.detach() if norm.weight is not None else torch.ones_like(norm.running_var)
    return (gamma.abs() / torch.sqrt(norm.running_var + norm.eps)).double().cpu()
