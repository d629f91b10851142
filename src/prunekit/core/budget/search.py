"""Search the pruning level that meets a Target: bisection on a monotone level in [0, 1]."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prunekit.errors import ConfigError


@dataclass(frozen=True)
class SearchResult:
    level: float
    fractions: dict[str, float]
    evaluations: int


def search_level(
    evaluate: Callable[[float], dict[str, float]],
    targets: dict[str, float],
    tolerance: float,
    max_evaluations: int = 24,
) -> SearchResult:
    """The smallest level whose kept fractions are all at or below their targets, stopping once
    the binding fraction is within ``tolerance`` (relative) of its target.

    ``evaluate(level)`` returns kept fractions (e.g. ``{"params": 0.48}``), non-increasing in
    level. Raises ConfigError with the best reachable value when level 1 cannot meet a target.
    """

    def meets(fractions: dict[str, float]) -> bool:
        return all(fractions[k] <= targets[k] + 1e-12 for k in targets)

    def close(fractions: dict[str, float]) -> bool:
        return any(fractions[k] >= targets[k] * (1.0 - tolerance) for k in targets)

    at_zero = evaluate(0.0)
    if meets(at_zero):
        return SearchResult(0.0, at_zero, 1)
    at_one = evaluate(1.0)
    if not meets(at_one):
        reachable = ", ".join(f"{k}={at_one[k]:.4f}" for k in targets)
        wanted = ", ".join(f"{k}={v}" for k, v in targets.items())
        raise ConfigError(
            f"the target ({wanted}) cannot be reached: the most this configuration can remove "
            f"keeps {reachable}; fix: ask less, or let more be removed (channel pruning: "
            "raise max_fraction, remove ignore entries)"
        )
    low, high, best = 0.0, 1.0, (1.0, at_one)
    evaluations = 2
    while evaluations < max_evaluations and not close(best[1]):
        middle = (low + high) / 2
        fractions = evaluate(middle)
        evaluations += 1
        if meets(fractions):
            high, best = middle, (middle, fractions)
        else:
            low = middle
        if high - low < 1e-4:
            break
    return SearchResult(best[0], best[1], evaluations)
