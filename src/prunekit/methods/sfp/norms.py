"""Which batch norm normalises which producer's output, and the filter rows with that batch
norm folded in: behind a batch norm a filter's own norm is arbitrary (the layer is invariant to
it), so it says nothing about the channel; the folded filter is what the deployed network uses."""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import nn

from prunekit.core.model.hooks import run_hooked
from prunekit.core.model.inputs import ExampleInputs

BATCH_NORM = nn.modules.batchnorm._BatchNorm
PRODUCERS = (nn.modules.conv._ConvNd, nn.Linear)


def following_norms(model: nn.Module, example_inputs: ExampleInputs) -> dict[str, str]:
    """{producer path: path of the batch norm that reads exactly its output}: the same tensor,
    not modified in place since (a residual ``+=`` or an in-place ReLU in between breaks the
    pair), with the channels on the norm's axis."""
    produced: dict[int, tuple[str, weakref.ref[torch.Tensor], int]] = {}
    pairs: dict[str, str] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, PRODUCERS):

            def record(m: nn.Module, _a: Any, out: Any, name: str = name) -> None:
                if isinstance(out, torch.Tensor) and (
                    not isinstance(m, nn.Linear) or out.dim() == 2
                ):
                    produced[id(out)] = (name, weakref.ref(out), out._version)

            handles.append(module.register_forward_hook(record))
        elif isinstance(module, BATCH_NORM) and module.track_running_stats:

            def pair(norm: nn.Module, args: tuple[Any, ...], name: str = name) -> None:
                x = args[0] if args and isinstance(args[0], torch.Tensor) else None
                source = produced.get(id(x)) if x is not None else None
                if (
                    source is not None
                    and source[1]() is x
                    and source[2] == x._version
                    and x.shape[1] == norm.num_features
                ):
                    pairs[source[0]] = name

            handles.append(module.register_forward_pre_hook(pair))
    run_hooked(model, example_inputs, handles)
    return pairs


def folded_scale(norm: nn.Module) -> torch.Tensor:
    """gamma / sqrt(running_var + eps) per channel: the factor the norm applies to a filter
    (signed, so that FPGM distances between folded filters are right; L2 ignores the sign)."""
    var = norm.running_var.detach()
    gamma = norm.weight.detach() if norm.weight is not None else torch.ones_like(var)
    return (gamma / torch.sqrt(var + norm.eps)).double().cpu()
