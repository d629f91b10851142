"""One hooked forward pass: the hooks' handles are removed afterwards, even on error."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from prunekit.core.edit.surgery import get_module
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


OnCall = Callable[[str, tuple[Any, ...], dict[str, Any], Any], None]


def hook_calls(model: nn.Module, paths: Iterable[str], on_call: OnCall) -> list[Any]:
    """A forward hook on the module at each path that calls ``on_call(path, args, kwargs,
    output)`` on every call of it; returns the handles (``run_hooked`` removes them)."""
    handles = []
    try:
        for path in paths:

            def hook(
                _m: nn.Module,
                args: tuple[Any, ...],
                kwargs: dict[str, Any],
                out: Any,
                path: str = path,
            ) -> None:
                on_call(path, args, kwargs, out)

            module = get_module(model, path)
            handles.append(module.register_forward_hook(hook, with_kwargs=True))
    except BaseException:  # a path that does not exist: no hook stays behind
        for handle in handles:
            handle.remove()
        raise
    return handles


def first_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A module call's main input: its first positional argument, else its first keyword's."""
    return args[0] if args else next(iter(kwargs.values()), None)
