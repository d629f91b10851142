"""From scores and a target to an LLMPlan.

Depth: ``block_influence`` removes the layers of lowest Block Influence; ``angular`` the run of
consecutive layers of least angular distance; ``sglp`` segments the layers by Fisher optimal
segmentation of the CKA matrix's column sums and removes, segment by segment, the layers of
lowest Block Influence, keeping one per segment while it can (at scale the subset criterion is
Block Influence, which streams, instead of the small-model method's GradNorm or loss, which
need the whole model for backward passes); ``last`` removes the layers before the final one.
Width: one keep fraction for attention heads (whole key/value groups under GQA), MLP neurons
and hidden channels, the same count in every layer so the config expresses it, chosen by
activation importance and searched so the parameters meet the target.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from prunekit.core.budget.target import Target
from prunekit.errors import ConfigError
from prunekit.llm.checkpoint import Checkpoint
from prunekit.llm.names import METHODS
from prunekit.llm.plan import LLMPlan
from prunekit.llm.scores import Scores
from prunekit.llm.slicing import slice_of
from prunekit.llm.write import shapes_of
from prunekit.methods.sglp.segment import choose_count, fisher_losses, segments

GRID = 200  # width keep fractions searched: k / GRID


def check_request(method: str, target: Target) -> None:
    if method not in METHODS:
        raise ConfigError(f"--method {method!r}; expected one of {', '.join(METHODS)}")
    given = target.given()
    unsupported = set(given) - {"layers", "params"}
    if unsupported or len(given) != 1:
        raise ConfigError(
            f"prunekit llm takes one target, layers=F or params=F; got {given}; fix: e.g. "
            "--target layers=0.75 (keep 75% of the decoder layers) or --target params=0.7"
        )
    if method == "width" and "layers" in given:
        raise ConfigError(
            "--method width keeps every layer, so --target layers= cannot be met; fix: "
            "--target params=F with width, or a depth method (block_influence, angular, sglp)"
        )


def params_of(checkpoint: Checkpoint, plan: LLMPlan) -> int:
    """Parameters of the pruned checkpoint, from the shard headers and the plan."""
    shapes = shapes_of(checkpoint)
    total = 0
    for name in checkpoint.names:
        piece = slice_of(name, plan, checkpoint.family, shapes)
        if piece is not None:
            total += math.prod(piece.shape(checkpoint.shape(name)))
    return total


def removed_count(checkpoint: Checkpoint, target: Target) -> int:
    """How many layers a depth method removes to meet ``target``; refuses removing all."""
    layers = checkpoint.layers
    if target.layers is not None:
        count = layers - math.floor(target.layers * layers + 1e-9)
    else:
        everything = LLMPlan(tuple(range(layers)))
        total = params_of(checkpoint, everything)
        per_layer = (total - params_of(checkpoint, LLMPlan(()))) / layers
        count = max(0, math.ceil((total - float(target.params or 1) * total) / per_layer - 1e-9))
    if count >= layers:
        raise ConfigError(
            f"--target {target.given()} removes all {layers} decoder layers of "
            f"{checkpoint.directory}; fix: keep a larger fraction (each layer is "
            f"{1 / layers:.1%} of the depth)"
        )
    return count


def depth_plan(method: str, scores: Scores, count: int) -> tuple[LLMPlan, dict[str, object]]:
    layers = scores.layers
    details: dict[str, object] = {}
    if method == "block_influence":
        removed = sorted(range(layers), key=lambda i: float(scores.block_influence[i]))[:count]
    elif method == "last":
        removed = list(range(layers - 1 - count, layers - 1))
    elif method == "angular":
        start = int(torch.argmin(scores.angular)) if count else 0
        removed = list(range(start, start + count))
        details["run_start"] = start
    else:
        bounds = segmentation(scores)["segments"]
        removed = _spread(bounds, scores.block_influence, count)
    kept = tuple(i for i in range(layers) if i not in set(removed))
    return LLMPlan(kept), details


def segmentation(scores: Scores) -> dict[str, Any]:
    """SGLP's view of the layers: the CKA matrix between layer outputs (unbiased minibatch
    estimator; the biased one when batches hold fewer than 4 sequences), its Fisher optimal
    segmentation of the column sums, and the segmentation losses."""
    small = any(g.shape[0] < 4 for g in scores.grams.values())
    matrix = scores.cka("biased" if small else "unbiased")
    points = matrix.sum(0)[:, None]
    losses, _ = fisher_losses(points, 6)
    bounds = segments(points, choose_count(losses))
    return {"cka": matrix.tolist(), "segments": bounds, "segment_losses": losses.tolist()}


def _spread(bounds: list[tuple[int, int]], influence: torch.Tensor, count: int) -> list[int]:
    """Remove ``count`` layers, lowest Block Influence first, keeping one per segment while
    any segment has a spare layer."""
    removed: list[int] = []
    for _ in range(count):
        options = []
        for a, b in bounds:
            left = [i for i in range(a, b + 1) if i not in removed]
            options += [(i, len(left) > 1) for i in left]
        spare = [i for i, keeps_one in options if keeps_one] or [i for i, _ in options]
        removed.append(min(spare, key=lambda i: float(influence[i])))
    return sorted(removed)


def width_plan(checkpoint: Checkpoint, scores: Scores, target: Target) -> LLMPlan:
    """The largest common keep fraction whose plan meets the parameter target."""
    total = params_of(checkpoint, LLMPlan(tuple(range(checkpoint.layers))))
    goal = float(target.params or 1.0) * total
    low, high = 1, GRID  # plan(high / GRID) keeps everything
    if params_of(checkpoint, _width_at(checkpoint, scores, 1 / GRID)) > goal:
        raise ConfigError(
            f"--target {target.given()} is below what width pruning can reach (one head group, "
            "the smallest MLP and hidden widths in every layer); fix: a larger fraction, or "
            "a depth method"
        )
    while low < high:  # largest k with params(k) <= goal
        mid = (low + high + 1) // 2
        if params_of(checkpoint, _width_at(checkpoint, scores, mid / GRID)) <= goal:
            low = mid
        else:
            high = mid - 1
    return _width_at(checkpoint, scores, low / GRID)


def _width_at(checkpoint: Checkpoint, scores: Scores, fraction: float) -> LLMPlan:
    shapes = shapes_of(checkpoint)
    hidden_size = int(checkpoint.config_dict["hidden_size"])
    layers = range(checkpoint.layers)
    group = shapes.heads // shapes.kv_heads
    heads, kv_heads, neurons = {}, {}, {}
    for i in layers:
        per_head = scores.head_scores(i)
        if shapes.kv_heads > 1:  # GQA or multi-head: whole key/value groups
            keep = max(1, round(fraction * shapes.kv_heads))
            kv = _top(per_head.reshape(shapes.kv_heads, group).sum(1), keep)
            q = [k * group + j for k in kv for j in range(group)]
        else:  # multi-query: the one key/value head stays, query heads go
            kv = [0]
            q = _top(per_head, max(1, round(fraction * shapes.heads)))
        heads[i], kv_heads[i] = tuple(q), tuple(kv)
        neurons[i] = tuple(_top(scores.neuron_scores(i), _rounded(fraction, shapes.intermediate)))
    hidden = None
    if not checkpoint.family.scaled_embedding:
        hidden = tuple(_top(scores.hidden_scores(), _rounded(fraction, hidden_size)))
    return LLMPlan(tuple(layers), heads, kv_heads, neurons, hidden)


def _rounded(fraction: float, size: int) -> int:
    """A width kernels like: a multiple of 64 (of 8 below 1024 channels), at least one step."""
    step = 64 if size >= 1024 else 8
    return min(size, max(step, round(fraction * size / step) * step))


def _top(values: torch.Tensor, count: int) -> list[int]:
    """Indices of the ``count`` largest values, in ascending index order."""
    return sorted(int(i) for i in torch.topk(values, count).indices)
