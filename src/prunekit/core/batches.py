"""Batches of user data: (inputs, targets) tuples, HF-style dicts, or bare input tensors."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from prunekit.core.inputs import ExampleInputs, call_model, model_device, primary_output
from prunekit.errors import InputError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def batch_inputs(batch: Any) -> ExampleInputs:
    """What to call the model with: the first item of a tuple, a dict as keyword arguments
    (without ``labels``), or the batch itself."""
    if isinstance(batch, dict):
        return {k: v for k, v in batch.items() if k != "labels"}
    if isinstance(batch, list | tuple):
        if not batch:
            raise InputError("a data batch is empty; expected (inputs, targets)")
        return batch[0]
    return batch


def to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_device(v, device) for v in value)
    return value


def batch_loss(model: nn.Module, batch: Any, loss_fn: LossFn | None = None) -> torch.Tensor:
    """The training loss of one batch. Tuples: ``loss_fn(output, targets)`` (cross-entropy by
    default). Dicts (Hugging Face): ``loss_fn(output, labels)`` when both are given, else the
    model's own loss, with ``labels`` = ``input_ids`` for a language model."""
    batch = to_device(batch, model_device(model))
    if isinstance(batch, dict) and loss_fn is not None and "labels" in batch:
        output = primary_output(call_model(model, batch_inputs(batch)))
        loss = loss_fn(output, batch["labels"])
    elif isinstance(batch, dict):
        kwargs = dict(batch)
        kwargs.setdefault("labels", kwargs.get("input_ids"))
        loss = getattr(model(**kwargs), "loss", None)
        if loss is None:
            raise InputError(
                f"{type(model).__name__} returned no loss for a dict batch; pass (inputs, "
                "targets) batches with a loss_fn instead"
            )
    elif isinstance(batch, list | tuple) and len(batch) >= 2:
        output = primary_output(call_model(model, batch[0]))
        loss = (loss_fn or nn.functional.cross_entropy)(output, batch[1])
    else:
        raise InputError(
            "training data must yield (inputs, targets) or dict batches; "
            f"got {type(batch).__name__}"
        )
    if not math.isfinite(float(loss.detach())):
        raise InputError(f"the loss is {float(loss)}: the data or the model produce NaN/inf")
    return loss


def take(data: Iterable[Any], count: int, what: str) -> Iterator[Any]:
    """At most ``count`` batches; a clear error when there is none."""
    used = 0
    for batch in data:
        if used >= count:
            break
        used += 1
        yield batch
    if used == 0:
        raise InputError(f"{what} yielded no batch")
