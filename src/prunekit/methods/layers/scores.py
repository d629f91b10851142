"""Layer-importance baselines: Block Influence, angular distance, random, drop-last."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.units import Unit
from prunekit.core.scoring.representations import Seen, each_batch


def mean_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean cosine between matching rows (tokens, samples) of two same-shaped activations."""
    if a.dim() == 4:  # (N, C, H, W): one vector per position
        a, b = a.flatten(2).transpose(1, 2), b.flatten(2).transpose(1, 2)
    a = a.reshape(-1, a.shape[-1]).double()
    b = b.reshape(-1, b.shape[-1]).double()
    return nn.functional.cosine_similarity(a, b, dim=-1, eps=1e-12).mean()


def block_influence(
    model: nn.Module, units: Sequence[Unit], data: Iterable[Any], batches: int
) -> dict[str, float]:
    """BI = 1 - cos(input, output), averaged over batches; low BI changes little."""
    paths = [u.path for u in units if u.removable]
    totals = dict.fromkeys(paths, 0.0)

    def add(seen: Seen) -> None:
        for path in paths:
            x, y = seen[path]
            totals[path] += float(1 - mean_cosine(x, y))

    used = each_batch(model, paths, data, batches, add)
    return {p: v / used for p, v in totals.items()}


def angular_runs(
    model: nn.Module, units: Sequence[Unit], data: Iterable[Any], batches: int, length: int
) -> list[tuple[float, list[str]]]:
    """(distance, paths) of every run of ``length`` consecutive removable units: the angle
    between the input of the first and the output of the last, arccos(cos) / pi."""
    paths = [u.path for u in units]
    runs = [
        paths[i : i + length]
        for i in range(len(paths) - length + 1)
        if all(u.removable for u in units[i : i + length])
    ]
    totals = [0.0] * len(runs)

    def add(seen: Seen) -> None:
        for r, run in enumerate(runs):
            cos = mean_cosine(seen[run[0]][0], seen[run[-1]][1]).clamp(-1, 1)
            totals[r] += float(torch.arccos(cos) / torch.pi)

    used = each_batch(model, paths, data, batches, add)
    return [(t / used, run) for t, run in zip(totals, runs, strict=True)]
