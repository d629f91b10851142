"""Split or merged, by measured latency (``BasisConfig(export="latency")``): a decomposed layer
leaves either as its k x k basis layer and a 1 x 1 back-projection, or merged back into one
layer of the original shape. Fewer weights do not always run faster (the extra layer has its
own cost), so each layer's two forms are priced with the latency tables at its kept rank, on
the input it is called with. A layer that runs faster merged is counted whole (its bases are
kept: removing them would save nothing) and the basis selection runs again, until no layer
changes form."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from prunekit.core.budget.metrics import Latency
from prunekit.core.model.hooks import first_input, hook_calls, run_hooked
from prunekit.core.model.inputs import ExampleInputs, model_device, model_dtype
from prunekit.errors import ConfigError, PrunekitError
from prunekit.latency.compare import compare, verdict
from prunekit.latency.table import LatencyTable, LayerShape, shape_of
from prunekit.methods.basis.budget import LayerCost

Kept = list[list[int]]


class Forms:
    """The two forms' table latencies of every decomposed layer at ``paths`` of ``model``."""

    def __init__(
        self, model: nn.Module, paths: list[str], inputs: ExampleInputs, threads: int | None
    ) -> None:
        threads = threads or torch.get_num_threads()
        self.table = LatencyTable(model_device(model), model_dtype(model), threads)
        captured: dict[str, LayerShape | None] = {}

        def on_call(path: str, args: tuple[Any, ...], kwargs: dict[str, Any], _out: Any) -> None:
            tensor = first_input(args, kwargs)
            captured.setdefault(path, shape_of(model.get_submodule(path), tensor))

        parts = [f"{p}.{part}" for p in paths for part in ("basis", "back")]
        run_hooked(model, inputs, hook_calls(model, parts, on_call))
        self.shapes = {}
        for path in paths:
            basis, back = captured.get(f"{path}.basis"), captured.get(f"{path}.back")
            if basis is not None and back is not None:  # a layer never called stays by params
                self.shapes[path] = (basis, back)

    def times(self, path: str, rank: int) -> tuple[float, float] | None:
        """(split, merged) latency in ms of the layer at ``path`` keeping ``rank`` bases."""
        if path not in self.shapes:
            return None
        basis, back = self.shapes[path]
        split = self.table.latency_ms(dataclasses.replace(basis, outputs=rank))
        split += self.table.latency_ms(back.reading(rank))
        merged = self.table.latency_ms(
            dataclasses.replace(basis, outputs=back.outputs, bias=back.bias)
        )
        self.table.save()
        return split, merged

    def settle(
        self, paths: list[str], costs: list[LayerCost], choose: Callable[[list[LayerCost]], Kept]
    ) -> tuple[Kept, list[bool]]:
        """The kept bases and, per layer, whether it leaves split: split where that holds fewer
        weights and runs faster; layers faster merged are counted whole and ``choose`` (the
        basis selection) runs again until none changes."""
        merged: set[int] = set()
        while True:
            try:
                kept = choose(
                    [dataclasses.replace(c, merged=i in merged) for i, c in enumerate(costs)]
                )
            except ConfigError as exc:
                raise ConfigError(
                    f"{exc} ({len(merged)} layers run faster merged with export='latency' and "
                    "count whole; fix: export='params', or relax the target)"
                ) from None
            split = [i not in merged and costs[i].pays(len(k)) for i, k in enumerate(kept)]
            slower = set()
            for i, keep in enumerate(kept):
                times = self.times(paths[i], len(keep)) if split[i] else None
                if times is not None and times[0] >= times[1]:
                    slower.add(i)
            if not slower:
                return kept, split
            merged |= slower


def final_check(
    original: nn.Module, pruned: nn.Module, inputs: ExampleInputs, channel: Any
) -> tuple[dict[str, Any], tuple[Latency, Latency]]:
    """Double pruning to a latency target: the final model timed against the original (the
    channel stage's check timed the model before the basis stage)."""
    wanted = channel.target.latency
    comparison = compare(original, pruned, inputs, channel.latency_threads)
    if comparison.ratio >= 1.0:
        raise PrunekitError(
            f"double pruning made the model slower than the original ({comparison.after} "
            f"against {comparison.before}): the basis stage's split layers cost more than the "
            "channel stage saved. Fix: BasisConfig(export='latency'), or channel pruning alone"
        )
    met = verdict(comparison, wanted)
    if met == "no":
        warnings.warn(
            f"double pruning to Target(latency={wanted}): the final model keeps "
            f"{comparison.ratio:.3f} of the original's latency (speed-up "
            f"{comparison.speedup:.2f}x, noise {comparison.noise:.1%}) after the basis stage. "
            "It is returned; consider BasisConfig(export='latency')",
            stacklevel=4,
        )
    final = {
        "measured": comparison.ratio,
        "speedup": comparison.speedup,
        "noise": comparison.noise,
        "met": met,
    }
    return final, (comparison.before, comparison.after)
