"""Layer gates: a scalar g on the residual branch of each removable unit, so the unit computes
x + g * F(x). The gate multiplies the output of the branch's last parametric layer (the branch
end); at g = 0 the unit must pass its input through unchanged, which is checked on the example
inputs: a unit where it does not (a branch end that is not the last op before the sum) gets no
gate. Folding multiplies the branch end's weight and bias by g, so no gate module remains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.units import Unit
from prunekit.core.edit.layers import _first_tensor
from prunekit.core.edit.surgery import get_module
from prunekit.core.model.hooks import first_input, hook_calls, run_hooked
from prunekit.core.model.inputs import ExampleInputs

GATE = "adaptive_gate"
_FOLDABLE = (nn.modules.batchnorm._BatchNorm, nn.modules.conv._ConvNd, nn.Linear, nn.LayerNorm)


@dataclass
class LayerGate:
    unit: str
    end: str  # path of the branch's last parametric layer
    cost: int  # parameters inside the unit
    gate: nn.Parameter = field(default_factory=lambda: nn.Parameter(torch.ones(())))


def branch_ends(model: nn.Module, units: list[Unit], inputs: ExampleInputs) -> dict[str, str]:
    """Per removable unit, the last-called foldable layer whose output has the unit's shape."""
    last: dict[str, str] = {}
    shapes: dict[str, Any] = {}
    handles = []
    for unit in units:
        if not unit.removable:
            continue
        block = get_module(model, unit.path)
        for name, module in block.named_modules():
            if not isinstance(module, _FOLDABLE) or name == "":
                continue

            def hook(_m: nn.Module, _i: Any, out: Any, unit: str = unit.path, name: str = name):
                if isinstance(out, torch.Tensor):
                    last[unit] = f"{unit}.{name}"
                    shapes[unit] = out.shape

            handles.append(module.register_forward_hook(hook))

        def outer(_m: nn.Module, _i: Any, out: Any, unit: str = unit.path) -> None:
            tensor = _first_tensor(out)
            if unit in shapes and shapes[unit] != getattr(tensor, "shape", None):
                last.pop(unit, None)

        handles.append(block.register_forward_hook(outer))
    run_hooked(model, inputs, handles)
    return last


def attach(model: nn.Module, gate: LayerGate) -> Any:
    """Register the gate on the branch end and multiply its output by it; returns the handle."""
    end = get_module(model, gate.end)
    end.register_parameter(GATE, gate.gate)
    return end.register_forward_hook(lambda m, _i, out: out * getattr(m, GATE))


def exact_at_zero(
    model: nn.Module, gates: list[LayerGate], inputs: ExampleInputs, tolerance: float = 1e-5
) -> dict[str, float]:
    """With every gate at 0, the relative difference between each unit's output and input."""
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def record(unit: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        seen.setdefault(unit, (first_input(args, kwargs).detach(), _first_tensor(out).detach()))

    handles = hook_calls(model, [g.unit for g in gates], record)
    saved = [gate.gate.detach().clone() for gate in gates]
    with torch.no_grad():
        for gate in gates:
            gate.gate.zero_()
    try:
        run_hooked(model, inputs, handles)
    finally:
        with torch.no_grad():
            for gate, value in zip(gates, saved, strict=True):
                gate.gate.copy_(value)
    errors = {}
    for gate in gates:
        x, y = seen[gate.unit]
        errors[gate.unit] = float((y - x).norm() / x.norm().clamp_min(1e-12))
    return errors


@torch.no_grad()
def fold(model: nn.Module, gate: LayerGate) -> None:
    """Multiply the branch end's weight and bias by the gate and drop the gate parameter."""
    end = get_module(model, gate.end)
    value = gate.gate.detach().to(end.weight.dtype)
    end.weight.mul_(value)
    if getattr(end, "bias", None) is not None:
        end.bias.mul_(value)
    delattr(end, GATE)
