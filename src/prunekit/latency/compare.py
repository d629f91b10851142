"""Two models timed against each other in interleaved rounds (the order alternating), so that a
machine that speeds up or slows down during the measurement affects both alike. The noise is
the spread of the per-round ratios after / before: half their interquartile range over their
median (a ratio of 0.50 with noise 5% means the rounds' middle half lay within 0.475-0.525)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from prunekit.core.budget.metrics import Latency, benchmark_module
from prunekit.core.model.inputs import ExampleInputs, batch_size_of, model_device, model_dtype
from prunekit.core.model.modes import num_threads

ROUNDS = 7
MIN_RUN_TIME = 0.3


@dataclass(frozen=True)
class Comparison:
    before: Latency
    after: Latency
    noise: float  # relative spread of the per-round ratios after / before

    @property
    def ratio(self) -> float:
        return self.after.median_ms / self.before.median_ms

    @property
    def speedup(self) -> float:
        return 1.0 / self.ratio


def compare(
    reference: nn.Module,
    candidate: nn.Module,
    inputs: ExampleInputs,
    threads: int | None = None,
    candidate_inputs: ExampleInputs | None = None,
    rounds: int = ROUNDS,
    min_run_time: float = MIN_RUN_TIME,
) -> Comparison:
    """Median latency of ``reference`` and ``candidate`` over ``rounds`` interleaved rounds."""
    other = inputs if candidate_inputs is None else candidate_inputs
    with num_threads(threads) as used:
        before, after = interleaved(
            [(reference, inputs), (candidate, other)], used, rounds, min_run_time
        )
    ratios = [a / b for a, b in zip(after, before, strict=True)]
    return Comparison(
        before=_latency(before, used, reference, inputs),
        after=_latency(after, used, candidate, other),
        noise=spread(ratios) / 2 / statistics.median(ratios),
    )


def interleaved(
    runs: Sequence[tuple[nn.Module, ExampleInputs]],
    threads: int,
    rounds: int = ROUNDS,
    min_run_time: float = MIN_RUN_TIME,
) -> list[list[float]]:
    """Per-round median latencies (ms) of each ``(model, inputs)`` in ``runs``, timed in turn
    within each round, the order rotating from round to round."""
    times: list[list[float]] = [[] for _ in runs]
    for number in range(rounds):
        for step in range(len(runs)):
            index = (step + number) % len(runs)
            model, given = runs[index]
            result = benchmark_module(model, given, threads, min_run_time, warm_up=number == 0)
            times[index].append(result.median * 1e3)
    return times


def verdict(comparison: Comparison, wanted: float) -> str:
    """``"yes"``: at or below the wanted ratio; ``"within noise"``: above it by no more than
    the measurement's noise; ``"no"``."""
    if comparison.ratio <= wanted:
        return "yes"
    return "within noise" if comparison.ratio <= wanted * (1.0 + comparison.noise) else "no"


def spread(values: list[float]) -> float:
    """The interquartile range of ``values`` (0 for fewer than two)."""
    if len(values) < 2:
        return 0.0
    low, _, high = statistics.quantiles(values, n=4, method="inclusive")
    return high - low


def _latency(times: list[float], threads: int, model: nn.Module, inputs: ExampleInputs) -> Latency:
    return Latency(
        median_ms=statistics.median(times),
        iqr_ms=spread(times),
        repeats=len(times),
        threads=threads,
        batch_size=batch_size_of(inputs),
        device=str(model_device(model)),
        dtype=str(model_dtype(model)).removeprefix("torch."),
    )
