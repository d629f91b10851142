"""Sparsity schedules (fasterai's, as in Hubens et al.): the sparsity to reach at training
progress t in [0, 1], from 0 to ``final``."""

from __future__ import annotations

import math

SCHEDULES = ("one_cycle", "one_shot", "iterative", "agp")


def sparsity(t: float, final: float, kind: str = "one_cycle", start: float = 0.2) -> float:
    """one_cycle: s_f (1 + e^(-a + b)) / (1 + e^(-a t + b)), a = 14, b = 6; one_shot: all at
    t = 0.5; iterative: three equal steps from ``start``; agp: s_f (1 - (1 - u)^3) with u the
    progress after ``start``. Every schedule reaches ``final`` at t = 1."""
    t = min(max(t, 0.0), 1.0)
    if kind == "one_cycle":
        alpha, beta = 14.0, 6.0
        return final * (1 + math.exp(-alpha + beta)) / (1 + math.exp(-alpha * t + beta))
    if kind == "one_shot":
        return final if t >= 0.5 else 0.0
    u = 0.0 if t < start else (t - start) / (1 - start)
    if kind == "iterative":
        return final * min(3, math.floor(u * 3) + (1 if u > 0 else 0)) / 3
    if kind == "agp":
        return final * (1 - (1 - u) ** 3)
    raise ValueError(f"unknown schedule {kind!r}; expected one of {', '.join(SCHEDULES)}")
