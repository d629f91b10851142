"""Pruning to a latency target, for any method whose search evaluates plans (channel pruning,
layer removal). The search predicts each candidate plan's latency from the per-layer tables;
the chosen plan is then built and timed against the original in interleaved rounds. While the
measurement is above the target, the prediction's error is corrected (the asked fraction scaled
by target / measured) and the search runs again, up to ``ATTEMPTS`` builds. A build at or below
the target is kept; else the fastest within the measurement's noise of it (reported as met
within noise); else the fastest one measured, with a warning naming the numbers. One that is
not faster than the original is never returned (an error says so)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from prunekit.core.budget.fractions import KeptFractions
from prunekit.core.budget.metrics import Latency, measure_latency
from prunekit.core.edit.plan import Plan
from prunekit.core.model.inputs import ExampleInputs, model_device, model_dtype
from prunekit.errors import ConfigError, PrunekitError
from prunekit.latency.compare import Comparison, compare, verdict
from prunekit.latency.predict import LatencyModel
from prunekit.latency.table import LatencyTable

ATTEMPTS = 4  # builds timed against the original at most


class Candidate(Protocol):
    """What a method's search returns: its kept fractions (``latency`` among them)."""

    fractions: dict[str, float]


C = TypeVar("C", bound=Candidate)


class LatencyGoal:
    """The latency side of a search on ``model``: its tables and its prediction, on ``inputs``
    (their batch), the model's device and dtype, and ``threads`` (default: torch's count)."""

    def __init__(
        self, model: nn.Module, inputs: ExampleInputs, threads: int | None, refresh: bool
    ) -> None:
        self.model, self.inputs = model, inputs
        self.threads = threads or torch.get_num_threads()
        self.table = LatencyTable(
            model_device(model), model_dtype(model), self.threads, None, refresh
        )
        dense = measure_latency(model, inputs, self.threads, min_run_time=0.3)
        self.predictor = LatencyModel(model, inputs, self.table, dense.median_ms)

    def fraction(self, plan: Plan) -> float:
        """The predicted latency of ``model`` with ``plan`` applied over its measured latency."""
        return self.predictor.fraction(plan)

    def confirm(
        self,
        first: C,
        targets: dict[str, float],
        choose: Callable[[dict[str, float]], C],
        plan_of: Callable[[C], Plan],
        hint: str = "a larger batch, a lower target, or a larger round_to so the kept counts "
        "suit the kernels",
        stacklevel: int = 4,
    ) -> tuple[C, dict[str, Any], tuple[Latency, Latency] | None]:
        """Time ``first`` against the original; search again with a corrected goal while the
        measurement is above the target (up to ``ATTEMPTS`` builds; ``plan_of`` gives a
        candidate's plan, ``choose`` searches again for other targets). The fastest build at or
        below the target is chosen, else the fastest within the measurement's noise of it, else
        the fastest with a warning (``stacklevel`` for ``warnings.warn``, pointing at the
        caller of ``pk.prune``). ``hint`` is the fix the error names when nothing is faster.
        Returns the chosen candidate, the details and the interleaved latencies of the original
        and the chosen model."""
        wanted = targets["latency"]
        if not plan_of(first).edits:  # nothing to remove (e.g. latency=1): nothing to time
            return first, _unchanged(wanted), None
        asked, candidate = wanted, first
        tried: list[tuple[C, Comparison, float]] = []
        for _ in range(ATTEMPTS):
            pruned = plan_of(candidate).apply(copy.deepcopy(self.model))
            comparison = compare(self.model, pruned, self.inputs, self.threads)
            tried.append((candidate, comparison, asked))
            if verdict(comparison, wanted) == "yes":
                break
            # correct the prediction's error: from what was predicted, not what was asked
            # (another target may bind, leaving the prediction below the asked value)
            predicted = candidate.fractions["latency"]
            asked = min(asked, predicted) * wanted / comparison.ratio
            try:
                candidate = choose({**targets, "latency": asked})
            except ConfigError:
                break  # the prediction says nothing faster is reachable
            if any(candidate.fractions == c.fractions for c, _, _ in tried):
                break  # the search gives a plan already timed
        verdicts = [verdict(m, wanted) for _, m, _ in tried]
        best = next(v for v in ("yes", "within noise", "no") if v in verdicts)
        pool = [t for t, v in zip(tried, verdicts, strict=True) if v == best]
        chosen, comparison, _ = min(pool, key=lambda t: t[1].ratio)
        attempts = [
            {
                "asked": a,
                "predicted": c.fractions["latency"],
                "measured": m.ratio,
                "noise": m.noise,
            }
            for c, m, a in tried
        ]
        if comparison.ratio >= 1.0:
            measured = ", ".join(f"{a['measured']:.3f}" for a in attempts)
            raise PrunekitError(
                f"no pruned model faster than the original was found for Target(latency={wanted}) "
                f"(measured after / before: {measured}; "
                f"{comparison.before}): on this device, batch and thread count the channels "
                f"removed do not make it faster. Fix: {hint}"
            )
        if best == "no":
            warnings.warn(
                f"Target(latency={wanted}) was not met: the fastest pruned model measured keeps "
                f"{comparison.ratio:.3f} of the original's latency (speed-up "
                f"{comparison.speedup:.2f}x, noise {comparison.noise:.1%}) after "
                f"{len(tried)} attempts; it is returned (see result.details['latency'])",
                stacklevel=stacklevel,
            )
        details = {
            "target": wanted,
            "met": best,
            "measured": comparison.ratio,
            "speedup": comparison.speedup,
            "noise": comparison.noise,
            "predicted": chosen.fractions["latency"],
            "prediction_error": chosen.fractions["latency"] / comparison.ratio - 1.0,
            "attempts": attempts,
            "before": comparison.before.__dict__,
            "after": comparison.after.__dict__,
            "table": self.table.stats(),
        }
        return chosen, details, (comparison.before, comparison.after)


def kept_fractions(plan: Plan, kept: KeptFractions, goal: LatencyGoal | None) -> dict[str, float]:
    """The params (and MACs) fractions ``plan`` keeps, with its predicted latency fraction when
    the search has a latency ``goal``."""
    fractions = kept.of_plan(plan)
    if goal is not None:
        fractions["latency"] = goal.fraction(plan)
    return fractions


def _unchanged(wanted: float) -> dict[str, Any]:
    return {
        "target": wanted,
        "met": "yes",
        "measured": 1.0,
        "speedup": 1.0,
        "noise": 0.0,
        "predicted": 1.0,
        "prediction_error": 0.0,
        "attempts": [],
        "note": "nothing was removed: the model is returned unchanged, not timed",
    }
