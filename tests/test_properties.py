"""Property-based tests (hypothesis): CKA, Fisher segmentation, plan JSON, the invariant."""

from __future__ import annotations

import itertools
import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from prunekit.core.analysis.graph import ChannelGraph
from prunekit.core.checks.screen import exact_error
from prunekit.core.edit.edits import ChannelEdit, Keep
from prunekit.core.edit.plan import LayersEdit, Plan
from prunekit.core.edit.selection import lowest, removal_count
from prunekit.methods.sglp.cka import cka
from prunekit.methods.sglp.segment import fisher_losses

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    n=st.integers(6, 24),
    d=st.integers(1, 12),
    scale=st.floats(0.1, 50.0),
    seed=st.integers(0, 10_000),
    estimator=st.sampled_from(["unbiased", "biased"]),
)
def test_cka_is_one_on_itself_and_invariant(
    n: int, d: int, scale: float, seed: int, estimator: str
) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    assert math.isclose(cka(x, x, estimator), 1.0, abs_tol=1e-9)
    assert math.isclose(cka(x, scale * x @ q, estimator), 1.0, abs_tol=1e-6)
    y = torch.randn(n, d + 1, generator=g, dtype=torch.float64)
    value = cka(x, y, estimator)
    assert math.isclose(value, cka(y, x, estimator), abs_tol=1e-9)


def _brute(points: list[float], k: int) -> float:
    best = math.inf
    for cuts in itertools.combinations(range(1, len(points)), k - 1):
        edges = [0, *cuts, len(points)]
        total = 0.0
        for a, b in itertools.pairwise(edges):
            part = points[a:b]
            mean = sum(part) / len(part)
            total += sum((p - mean) ** 2 for p in part)
        best = min(best, total)
    return best


@FAST
@given(points=st.lists(st.floats(-5, 5), min_size=2, max_size=8), k=st.integers(1, 4))
def test_fisher_segmentation_matches_brute_force(points: list[float], k: int) -> None:
    k = min(k, len(points))
    losses, _ = fisher_losses(torch.tensor(points, dtype=torch.float64)[:, None], k)
    assert math.isclose(float(losses[k - 1]), _brute(points, k), rel_tol=1e-9, abs_tol=1e-9)


@FAST
@given(data=st.data())
def test_plan_json_round_trips(data: st.DataObject) -> None:
    edits = []
    for i in range(data.draw(st.integers(1, 5))):
        size = data.draw(st.integers(1, 40))
        keep = sorted(data.draw(st.sets(st.integers(0, size - 1), min_size=1)))
        if data.draw(st.booleans()):
            edits.append(ChannelEdit(f"m{i}", Keep(size, tuple(keep)), None))
        else:
            edits.append(LayersEdit(f"layers{i}", Keep(size, tuple(keep))))
    plan = Plan(edits)
    assert Plan.loads(plan.dumps()).edits == plan.edits


class _Net(nn.Module):
    def __init__(self, widths: list[int], residual: bool) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, widths[0], 3, padding=1)
        self.convs = nn.ModuleList(
            nn.Conv2d(widths[0], widths[0], 3, padding=1) for _ in widths[1:]
        )
        self.head = nn.Linear(widths[0], 4)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        for conv in self.convs:
            x = torch.relu(x + conv(x)) if self.residual else torch.relu(conv(x))
        return self.head(x.mean((2, 3)))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(2, 12),
    depth=st.integers(1, 3),
    residual=st.booleans(),
    fraction=st.floats(0.05, 0.9),
    seed=st.integers(0, 1000),
)
def test_random_removal_keeps_the_invariant(
    width: int, depth: int, residual: bool, fraction: float, seed: int
) -> None:
    torch.manual_seed(seed)
    model = _Net([width] * (depth + 1), residual).eval()
    x = torch.randn(2, 3, 6, 6)
    groups = ChannelGraph(model, x).groups()
    g = torch.Generator().manual_seed(seed)
    removal = {}
    for i, group in enumerate(groups):
        count = removal_count(group, fraction)
        if count:
            removal[i] = lowest(group, torch.rand(group.size, generator=g), count)
    error = exact_error(model, groups, removal, x)
    assert error is None or error <= 1e-5
    assert removal or all(removal_count(g, fraction) == 0 for g in groups)
