"""One hooked forward pass: the hooks' handles are removed afterwards, even on error."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from prunekit.core.model.inputs import ExampleInputs, call_model
from prunekit.core.model.modes import eval_mode


def run_hooked(model: nn.Module, example_inputs: ExampleInputs, handles: Iterable[Any]) -> None:
    """Run ``model`` once in eval mode without gradients, then remove ``handles``."""
    try:
        with eval_mode(model), torch.no_grad():
            call_model(model, example_inputs)
    finally:
        for handle in handles:
            handle.remove()
