"""A pruned model's latency predicted from the layer tables, without building it: a plan is
replayed on a skeleton of the model whose tensors live on the ``meta`` device, one forward pass
there records the shape every timed layer is called with and the size of every other layer's
output, and the prediction is

    sum of the timed layers' table latencies + rest x (activation elements / original's)

where ``rest`` is the original model's measured latency minus its timed layers' sum (the
normalisation, activations, pooling and attention products that the tables do not hold); when
the tables sum to more than the measurement, they are scaled down to it and the rest is none.
The prediction of the original model is therefore its measurement. A model the meta device cannot
run is replayed on a copy sharing the model's tensors instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prunekit.core.budget.fractions import plan_copy
from prunekit.core.edit.plan import Plan, PlanError
from prunekit.core.model.copies import meta_skeleton, on_meta, shared_copy
from prunekit.core.model.hooks import first_input, run_hooked
from prunekit.core.model.inputs import ExampleInputs
from prunekit.latency.table import TIMED, LatencyTable, LayerShape, shape_of

_META_FAILURES = (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError)


@dataclass(frozen=True)
class Profile:
    """One forward pass's timed layer calls and the elements every other leaf module output."""

    shapes: tuple[LayerShape, ...]
    elements: int


def profile(model: nn.Module, inputs: ExampleInputs) -> Profile:
    shapes: list[LayerShape] = []
    elements = [0]

    def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        tensor = first_input(args, kwargs)
        shape = shape_of(module, tensor) if isinstance(tensor, torch.Tensor) else None
        if shape is not None:
            shapes.append(shape)
        elif isinstance(out, torch.Tensor):
            elements[0] += out.numel()

    handles = [
        m.register_forward_hook(hook, with_kwargs=True)
        for m in model.modules()
        if isinstance(m, TIMED) or not any(True for _ in m.children())
    ]
    run_hooked(model, inputs, handles)
    return Profile(tuple(shapes), elements[0])


class LatencyModel:
    """Predicted latency of ``model`` once a plan is applied, from ``table``; ``measured_ms``
    is the original model's measured latency on ``inputs``."""

    def __init__(
        self, model: nn.Module, inputs: ExampleInputs, table: LatencyTable, measured_ms: float
    ) -> None:
        self.model, self.inputs, self.table = model, inputs, table
        self.skeleton: nn.Module | None = meta_skeleton(model)
        self.meta_inputs = on_meta(inputs)
        base = self._profile(Plan([]))
        self.measured_ms = measured_ms
        timed = self._timed_ms(base)
        # the tables may sum to more than the whole (layers timed alone miss the caches the
        # model warms for them): then they are scaled down to it and the rest is none
        self.scale = min(1.0, measured_ms / timed) if timed > 0 else 1.0
        self.rest_ms = max(0.0, measured_ms - timed)
        self.elements = max(1, base.elements)

    def _profile(self, plan: Plan) -> Profile:
        if self.skeleton is not None:
            try:
                return profile(
                    plan_copy(plan).apply(copy.deepcopy(self.skeleton)), self.meta_inputs
                )
            except PlanError:
                raise  # a plan that does not fit the model: the same on real tensors
            except _META_FAILURES:
                self.skeleton = None  # this model needs real tensors from now on
        return profile(plan_copy(plan).apply(shared_copy(self.model)), self.inputs)

    def _timed_ms(self, found: Profile) -> float:
        total = sum(self.table.latency_ms(shape) for shape in found.shapes)
        self.table.save()
        return total

    def predict_ms(self, plan: Plan) -> float:
        """The latency ``model`` is predicted to have once ``plan`` is applied (not touched)."""
        found = self._profile(plan)
        return self.scale * self._timed_ms(found) + self.rest_ms * found.elements / self.elements

    def fraction(self, plan: Plan) -> float:
        return self.predict_ms(plan) / self.measured_ms
