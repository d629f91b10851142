"""Modules that run only in training mode (Inception's and GoogLeNet's auxiliary classifiers):
an eval-mode trace never sees them, so channels they read would be pruned without them and the
model would fail as soon as it is fine-tuned. The dependency analysis traces the training-mode
graph instead when such modules exist."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from prunekit.core.model.inputs import ExampleInputs, batch_size_of, call_model, split_inputs


def train_only_modules(model: nn.Module, example_inputs: ExampleInputs) -> list[str]:
    """Paths of the layers with parameters that run in training mode but not in eval mode. A
    model that cannot run in training mode on these inputs is analysed in eval mode only."""
    evaluated = _called(model, example_inputs, training=False)
    try:
        trained = _called(model, training_inputs(example_inputs), training=True)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        warnings.warn(
            f"{type(model).__name__} does not run in training mode on the example inputs "
            f"({type(exc).__name__}: {str(exc)[:160]}), so layers that run only in training "
            "mode (auxiliary classifiers) are not analysed and fine-tuning the pruned model may "
            "fail; fix: pass example inputs the model also accepts in training mode",
            stacklevel=3,
        )
        return []
    return [path for path in trained if path not in evaluated]


def training_inputs(example_inputs: ExampleInputs) -> ExampleInputs:
    """The example inputs, twice over when they hold one sample: batch norms in training mode
    need more than one value per channel."""
    if batch_size_of(example_inputs) != 1:
        return example_inputs

    def twice(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return torch.cat([value, value])
        return value

    args, kwargs = split_inputs(example_inputs)
    if kwargs:
        return {k: twice(v) for k, v in kwargs.items()}
    return twice(args[0]) if len(args) == 1 else tuple(twice(a) for a in args)


@contextmanager
def training_pass(model: nn.Module) -> Iterator[nn.Module]:
    """Training mode for a look at the model: the random state, the buffers (batch-norm
    statistics) and every module's mode are as before afterwards."""
    modes = {name: m.training for name, m in model.named_modules()}
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    cuda = sorted({t.device.index or 0 for t in model.parameters() if t.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda):
        model.train()
        try:
            yield model
        finally:
            with torch.no_grad():
                for buffer, saved in buffers:
                    buffer.copy_(saved)
            for name, module in model.named_modules():
                module.training = modes.get(name, module.training)


def _called(model: nn.Module, inputs: ExampleInputs, training: bool) -> list[str]:
    called: list[str] = []
    handles = []
    for path, module in model.named_modules():
        if any(True for _ in module.parameters(recurse=False)):

            def hook(*_: Any, path: str = path) -> None:
                if path not in called:
                    called.append(path)

            handles.append(module.register_forward_pre_hook(hook))
    modes = {name: m.training for name, m in model.named_modules()}
    try:
        with torch.no_grad():
            if training:
                with training_pass(model):
                    call_model(model, inputs)
            else:
                model.eval()
                call_model(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
        for name, module in model.named_modules():
            module.training = modes.get(name, module.training)
    return called
