"""The uniform rate an SFP target asks for, chosen once before training. Which channels go does
not change the exported shapes, so a plan removing ``lowest`` positions at a rate (the layout
the masks will have) is what the search measures and, for a latency target, what is built and
timed against the original. A run chooses once: under ``torchrun`` rank 0 chooses (the timing
happens there) and the other ranks receive its choice; with a ``checkpoint_dir`` the choice is
stored there and a resumed run reuses it (timing again could choose another rate than the
masks restored from the checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.budget.fractions import KeptFractions
from prunekit.core.budget.metrics import Latency
from prunekit.core.budget.search import SearchResult, search_level
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits, lowest, removal_count
from prunekit.core.model.inputs import ExampleInputs
from prunekit.io.atomic import write_json
from prunekit.latency.goal import LatencyGoal, kept_fractions
from prunekit.methods.sfp.config import SFPConfig

RATE_FILE = "rate.json"
HINT = "a lower target, or a larger batch"  # what an SFP user can change when nothing is faster

Choice = tuple[float, dict[str, Any] | None, tuple[Latency, Latency] | None]


def plan_at(model: nn.Module, groups: list[ChannelGroup], rate: float) -> Plan:
    """The plan exporting ``groups`` at ``rate``, with the masks' layout (``lowest`` keeps the
    same positions in every channel group of a grouped convolution)."""
    removal = {
        i: lowest(g, torch.zeros(g.size), removal_count(g, rate)) for i, g in enumerate(groups)
    }
    # groups with nothing removed stay out: an empty removal still makes a (no-op) edit, and a
    # plan without edits is how rate 0 says "nothing to time"
    return Plan(group_edits(model, groups, {i: r for i, r in removal.items() if r}))


def search_rate(
    model: nn.Module, groups: list[ChannelGroup], config: SFPConfig, inputs: ExampleInputs
) -> Choice:
    """The smallest uniform rate whose exported model meets ``config.target``; for a latency
    target the shapes at that rate are timed against the original and searched again while
    above the target (``LatencyGoal.confirm``). The rate, the latency details and the
    interleaved latencies (None for both without a latency target)."""
    assert config.target is not None
    targets = config.target.given()
    kept = KeptFractions(model, inputs, targets)
    goal = None
    if "latency" in targets:
        goal = LatencyGoal(model, inputs, config.latency_threads, config.latency_refresh)

    def choose(wanted: dict[str, float]) -> SearchResult:
        return search_level(
            lambda rate: kept_fractions(plan_at(model, groups, rate), kept, goal),
            wanted,
            tolerance=0.02,
        )

    chosen = choose(targets)
    if goal is None:
        return chosen.level, None, None
    # the warning points at the user's call: confirm < search_rate < chosen_rate < prune_sfp
    # < pk.prune < caller
    chosen, details, latencies = goal.confirm(
        chosen, targets, choose, lambda c: plan_at(model, groups, c.level), HINT, stacklevel=6
    )
    return chosen.level, details, latencies


def chosen_rate(
    model: nn.Module, groups: list[ChannelGroup], config: SFPConfig, inputs: ExampleInputs
) -> Choice:
    """``search_rate`` once per run: stored in and reused from ``config.checkpoint_dir``, and
    chosen by rank 0 under ``torchrun``."""
    assert config.target is not None
    key = {
        "target": config.target.given(),
        "latency_threads": config.latency_threads,
        "groups": [g.size for g in groups],
    }
    distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    first = not distributed or dist.get_rank() == 0
    choice: Choice | None = None
    if first:
        choice = _stored(config.checkpoint_dir, key)
        if choice is None:
            choice = search_rate(model, groups, config, inputs)
            if config.checkpoint_dir:
                _store(Path(config.checkpoint_dir) / RATE_FILE, key, choice)
    if distributed:
        box = [choice]
        dist.broadcast_object_list(box, src=0)
        choice = box[0]
    assert choice is not None
    return choice


def _store(path: Path, key: dict[str, Any], choice: Choice) -> None:
    rate, details, latencies = choice
    timed = [vars(t) for t in latencies] if latencies is not None else None
    write_json(path, {"key": key, "rate": rate, "latency": details, "latencies": timed})


def _stored(folder: str | None, key: dict[str, Any]) -> Choice | None:
    """The choice stored in ``folder`` for the same target, threads and groups; None when
    there is none (or it was made for another run: chosen again)."""
    if not folder:
        return None
    try:
        data = json.loads((Path(folder) / RATE_FILE).read_text())
        if data["key"] != key:
            return None
        timed = data["latencies"]
        latencies = (Latency(**timed[0]), Latency(**timed[1])) if timed else None
        return float(data["rate"]), data["latency"], latencies
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
