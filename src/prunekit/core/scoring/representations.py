"""Per-batch representations of layer units from forward hooks: each batch's inputs and outputs
are handed to a callback and dropped, so memory does not grow with the number of samples."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from prunekit.core.model.batches import batch_inputs, take, to_device
from prunekit.core.model.hooks import first_input, hook_calls
from prunekit.core.model.inputs import call_model, model_device
from prunekit.core.model.modes import eval_mode

Seen = dict[str, tuple[torch.Tensor, torch.Tensor]]  # path -> (input, output) of one batch


def _main(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, list | tuple) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


def each_batch(
    model: nn.Module,
    paths: Sequence[str],
    data: Iterable[Any],
    batches: int,
    callback: Callable[[Seen], None],
) -> int:
    """Run up to ``batches`` batches in eval mode without gradients and call ``callback`` with
    every unit's (input, output) of the first call in that batch. Returns the batches used."""
    seen: Seen = {}

    def record(path: str, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        first = _main(args) if args else _main(first_input(args, kwargs))
        out = _main(output)
        if path not in seen and first is not None and out is not None:
            seen[path] = (first.detach(), out.detach())

    handles = hook_calls(model, paths, record)
    used = 0
    device = model_device(model)
    try:
        with eval_mode(model), torch.no_grad():
            for batch in take(data, batches, "validation data"):
                seen.clear()
                call_model(model, to_device(batch_inputs(batch), device))
                callback(dict(seen))
                used += 1
    finally:
        for handle in handles:
            handle.remove()
    return used
