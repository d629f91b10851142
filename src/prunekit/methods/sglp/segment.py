"""Fisher optimal segmentation of a layer sequence into contiguous segments (exact dynamic
programme with back-pointers), and the loss-drop rule that chooses the number of segments."""

from __future__ import annotations

import torch


def _diameters(points: torch.Tensor) -> torch.Tensor:
    """D[a, b]: within-segment sum of squares of points a..b (inclusive), rows are points."""
    n = points.shape[0]
    d = torch.zeros(n, n, dtype=torch.float64)
    for a in range(n):
        for b in range(a, n):
            segment = points[a : b + 1]
            d[a, b] = ((segment - segment.mean(0)) ** 2).sum()
    return d


def fisher_losses(points: torch.Tensor, max_segments: int) -> tuple[torch.Tensor, torch.Tensor]:
    """loss[k-1] = least total diameter of k contiguous segments of all n points, and the
    back-pointers split[k-1, m] = start of the last segment in the best k-split of 0..m."""
    points = points.to(torch.float64).reshape(points.shape[0], -1)
    n = points.shape[0]
    kmax = min(max_segments, n)
    d = _diameters(points)
    best = torch.full((kmax, n), float("inf"), dtype=torch.float64)
    split = torch.zeros(kmax, n, dtype=torch.long)
    best[0] = d[0]
    for k in range(1, kmax):
        for m in range(k, n):
            costs = torch.stack([best[k - 1, j - 1] + d[j, m] for j in range(k, m + 1)])
            arg = int(torch.argmin(costs))
            best[k, m], split[k, m] = costs[arg], arg + k
    return best[:, n - 1], split


def segments(points: torch.Tensor, count: int) -> list[tuple[int, int]]:
    """The optimal ``count`` contiguous segments as (start, end) inclusive index pairs."""
    n = points.shape[0]
    count = max(1, min(count, n))
    _, split = fisher_losses(points, count)
    bounds, end = [], n - 1
    for k in range(count - 1, 0, -1):
        start = int(split[k, end])
        bounds.append((start, end))
        end = start - 1
    bounds.append((0, end))
    return bounds[::-1]


def choose_count(losses: torch.Tensor, threshold: float = 0.05) -> int:
    """The official code's rule: the largest k+1 whose relative loss drop from k exceeds
    ``threshold``; 1 when no split helps."""
    best = 1
    for k in range(len(losses) - 1):
        if losses[k] <= 0:
            break
        if (losses[k] - losses[k + 1]) / losses[k] > threshold:
            best = k + 2
    return best
