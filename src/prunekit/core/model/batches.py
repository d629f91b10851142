"""Batches of user data: (inputs, targets) tuples, HF-style dicts, or bare input tensors."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from prunekit.core.model.inputs import ExampleInputs, call_model, model_device, primary_output
from prunekit.errors import ConfigError, InputError

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
    default, with the labels checked). Dicts (Hugging Face): ``loss_fn(output, labels)`` when
    both are given, else the model's own loss; a language model without ``labels`` is trained
    to predict its ``input_ids``, any other model needs ``labels`` in the batch."""
    batch = to_device(batch, model_device(model))
    if isinstance(batch, dict) and loss_fn is not None and "labels" in batch:
        output = primary_output(call_model(model, batch_inputs(batch)))
        loss = loss_fn(output, batch["labels"])
    elif isinstance(batch, dict):
        loss = _own_loss(model, batch)
    elif isinstance(batch, list | tuple) and len(batch) >= 2:
        output = primary_output(call_model(model, batch[0]))
        if loss_fn is None:
            check_labels(batch[1], output.shape[-1], output.shape)
        loss = (loss_fn or nn.functional.cross_entropy)(output, batch[1])
    else:
        raise InputError(
            "training data must yield (inputs, targets) or dict batches; "
            f"got {type(batch).__name__}"
        )
    if not math.isfinite(float(loss.detach())):
        raise InputError(
            f"the loss is {float(loss.detach())}: the data or the model produce NaN/inf; fix "
            "the data (or lower the learning rate) before pruning"
        )
    return loss


def check_labels(labels: Any, classes: int, output_shape: Any, ignore: int = -100) -> None:
    """Class-index labels for cross-entropy: integers in [0, classes) (``ignore`` allowed), or
    float class probabilities of the output's shape. A clear error naming the value otherwise."""
    if not isinstance(labels, torch.Tensor):
        raise InputError(
            f"labels are a {type(labels).__name__}; cross-entropy needs a tensor of class "
            "indices; fix: yield (inputs, torch.tensor(labels)) or pass loss_fn="
        )
    if labels.is_floating_point():
        if tuple(labels.shape) == tuple(output_shape):
            return  # class probabilities
        raise InputError(
            f"labels are {str(labels.dtype).removeprefix('torch.')} of shape "
            f"{tuple(labels.shape)}; cross-entropy needs integer class indices 0..{classes - 1} "
            f"(or probabilities of the output's shape {tuple(output_shape)}); fix: labels.long(), "
            "or pass loss_fn= for another loss (regression: loss_fn=torch.nn.functional.mse_loss)"
        )
    used = labels[labels != ignore]
    if used.numel() and (int(used.min()) < 0 or int(used.max()) >= classes):
        bad = int(used.min()) if int(used.min()) < 0 else int(used.max())
        raise InputError(
            f"label {bad} is out of range: the model has {classes} outputs, so labels must be "
            f"0..{classes - 1}; fix: remap the labels, or give the model {max(classes, bad + 1)} "
            "outputs (e.g. num_classes=)"
        )


_LANGUAGE_MODELS = ("ForCausalLM", "LMHeadModel", "ForMaskedLM", "ForConditionalGeneration")


def _own_loss(model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    kwargs = dict(batch)
    name = type(model).__name__
    if "labels" not in kwargs:
        if not name.endswith(_LANGUAGE_MODELS) or "input_ids" not in kwargs:
            raise InputError(
                f"a dict batch without 'labels' for {name}: only a language model can use its "
                "input_ids as labels; fix: add 'labels' to every batch (the class of each "
                "sample for a classifier), or yield (inputs, targets) with a loss_fn"
            )
        kwargs["labels"] = kwargs["input_ids"]
    try:
        loss = getattr(model(**kwargs), "loss", None)
    except (IndexError, RuntimeError, ValueError) as exc:
        labels = kwargs["labels"]
        span = (
            f"{int(labels.min())}..{int(labels.max())}"
            if isinstance(labels, torch.Tensor) and labels.numel()
            else repr(labels)
        )
        raise InputError(
            f"{name} failed on a dict batch with labels in {span}: {str(exc)[:200]}; fix: labels "
            "must be class indices below the model's number of labels (or token ids below its "
            "vocabulary size)"
        ) from exc
    if loss is None:
        raise InputError(
            f"{name} returned no loss for a dict batch; pass (inputs, targets) batches with a "
            "loss_fn instead"
        )
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


def scoring_data(train_data: Iterable[Any] | None, val_data: Iterable[Any] | None, what: str):
    """The batches a criterion scores on: ``val_data``, else ``train_data``."""
    data = val_data if val_data is not None else train_data
    if data is None:
        raise ConfigError(f"{what} needs data: pass val_data= (or train_data=) to pk.prune")
    return data
