"""Channel pruning through the structural core: score groups, search the level, apply a plan."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGraph, ChannelGroup
from prunekit.core.budget.fractions import KeptFractions
from prunekit.core.budget.search import SearchResult, search_level
from prunekit.core.checks.screen import (
    screen,
)
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits
from prunekit.core.edit.surgery import get_module
from prunekit.core.model.inputs import ExampleInputs
from prunekit.core.scoring.gradients import LossFn, accumulate_gradients
from prunekit.core.scoring.importance import group_scores
from prunekit.errors import ConfigError, PrunekitError
from prunekit.latency.goal import LatencyGoal, kept_fractions
from prunekit.methods.channel.apply import apply_checked
from prunekit.methods.channel.config import ChannelConfig
from prunekit.methods.channel.ranking import global_removal, local_removal
from prunekit.methods.channel.refine import give_back
from prunekit.methods.outcome import MethodOutcome


def prune_channels(
    model: nn.Module,
    config: ChannelConfig,
    example_inputs: ExampleInputs,
    train_data: Iterable[Any] | None = None,
    loss_fn: LossFn | None = None,
) -> MethodOutcome:
    """Prune ``model`` in place (the caller passes a copy unless inplace was asked)."""
    graph = ChannelGraph(model, example_inputs)
    found = graph.groups()
    skipped = list(graph.skipped)
    groups = []
    for group in found:
        reason = _ignored(model, group, config.ignore)
        if reason:
            skipped.append((group.root, reason))
        else:
            groups.append(group)
    if config.importance == "taylor":
        if train_data is None:
            raise ConfigError(
                "importance='taylor' needs train_data (a DataLoader of "
                "(inputs, targets)); pass train_data= or use 'l2'"
            )
        accumulate_gradients(model, train_data, loss_fn, config.taylor_batches)
    generator = torch.Generator().manual_seed(config.seed)
    scored, scores = [], []
    for group in groups:
        score = group_scores(model, group, config.importance, generator)
        if score is None:
            skipped.append((group.root, f"no {config.importance} score (e.g. no batch norm)"))
        else:
            scored.append(group)
            scores.append(score)
    if config.importance == "taylor":
        model.zero_grad(set_to_none=True)
    if config.verify:
        checked, failed = screen(model, scored, example_inputs, config.seed)
        skipped.extend(failed)
        kept = {id(g) for g in checked}
        scores = [s for g, s in zip(scored, scores, strict=True) if id(g) in kept]
        scored = checked
    if not scored:
        raise PrunekitError(
            f"{type(model).__name__} has no prunable channel group "
            f"(skipped: {skipped or 'none found'})"
        )
    targets = _targets(config)
    kept = KeptFractions(model, example_inputs, targets)
    goal = None
    if "latency" in targets:
        goal = LatencyGoal(model, example_inputs, config.latency_threads, config.latency_refresh)

    def plan_of(removal: dict[int, list[int]]) -> Plan:
        return Plan(group_edits(model, scored, removal))

    def evaluate_removal(removal: dict[int, list[int]]) -> dict[str, float]:
        return kept_fractions(plan_of(removal), kept, goal)

    def choose(wanted: dict[str, float]) -> Candidate:
        return _choose(scored, scores, config, wanted, evaluate_removal, model, found, skipped)

    chosen = choose(targets)
    latency_details, latencies = None, None
    if goal is not None:
        chosen, latency_details, latencies = goal.confirm(
            chosen, targets, choose, lambda c: plan_of(c.removal)
        )
    removal, fractions = chosen.removal, chosen.fractions
    if config.verify:
        plan = apply_checked(model, scored, removal, example_inputs)
    else:
        plan = Plan(group_edits(model, scored, removal))
        plan.apply(model)
    details = {
        "level": chosen.level,
        "search_evaluations": chosen.evaluations,
        "kept_fractions": fractions,
        "groups_pruned": len(removal),
        "groups_total": len(scored),
        "channels_removed": sum(len(v) for v in removal.values()),
        "skipped_groups": [{"root": r, "reason": why} for r, why in skipped],
    }
    if latency_details is not None:
        details["latency"] = latency_details
    return MethodOutcome(model, plan, details, latencies=latencies)


def _choose(
    scored: list[ChannelGroup],
    scores: list[torch.Tensor],
    config: ChannelConfig,
    targets: dict[str, float],
    evaluate_removal: Callable[[dict[int, list[int]]], dict[str, float]],
    model: nn.Module,
    found: list[ChannelGroup],
    skipped: list[tuple[str, str]],
) -> Candidate:
    """The removal meeting ``targets``: the level search, then units given back one at a time
    while the targets still hold. An unreachable target raises with what limits it."""
    fill = False  # global ranking: caps drop picks; fill redistributes them (true maximum)

    def removal_at(level: float) -> dict[int, list[int]]:
        if config.scope == "global":
            return global_removal(
                scored, scores, level, config.max_fraction, config.round_to, fill=fill
            )
        return local_removal(scored, scores, level, config.max_fraction, config.round_to)

    def search() -> SearchResult:
        return search_level(
            lambda level: evaluate_removal(removal_at(level)), targets, config.tolerance
        )

    try:
        result = search()
    except ConfigError:
        if config.scope != "global":
            limit = evaluate_removal(removal_at(1.0))
            raise _unreachable(model, scored, found, skipped, limit, config, targets) from None
        fill = True  # level 1 left some caps unused: search again with them filled
        try:
            result = search()
        except ConfigError:
            limit = evaluate_removal(removal_at(1.0))
            raise _unreachable(model, scored, found, skipped, limit, config, targets) from None
    removal, fractions, refinements = give_back(
        removal_at(result.level),
        result.fractions,
        evaluate_removal,
        scored,
        scores,
        targets,
        config.tolerance,
        config.round_to,
        together=config.scope == "local",
    )
    return Candidate(removal, fractions, result.evaluations + refinements, result.level)


@dataclass
class Candidate:
    removal: dict[int, list[int]]
    fractions: dict[str, float]
    evaluations: int
    level: float


def _unreachable(
    model: nn.Module,
    groups: list[ChannelGroup],
    found: list[ChannelGroup],
    skipped: list[tuple[str, str]],
    limit: dict[str, float],
    config: ChannelConfig,
    targets: dict[str, float],
) -> ConfigError:
    """The target cannot be met: the true limit (every group removed to its cap) and the
    largest parts that no group prunes, with why."""
    wanted = ", ".join(f"{k}={v}" for k, v in targets.items())
    reached = ", ".join(f"{k}={limit[k]:.4f}" for k in targets)
    covered = {m.path for g in groups for m in g.members if not m.is_parameter}
    reasons = dict(skipped)
    why = {m.path: reasons[g.root] for g in found if g.root in reasons for m in g.members}
    why.update(reasons)
    whole = []
    for path, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if own and path not in covered:
            reason = why.get(path, "no prunable channel group reaches it")
            whole.append((own, path, type(module).__name__, reason))
    whole.sort(reverse=True)
    total = max(1, sum(p.numel() for p in model.parameters()))
    parts = "; ".join(
        f"{path} ({kind}, {own:,} params, {own / total:.1%}: {reason})"
        for own, path, kind, reason in whole[:4]
    )
    return ConfigError(
        f"the target ({wanted}) cannot be reached: removing every group's channels down to "
        f"max_fraction={config.max_fraction} keeps {reached}. Largest parts left whole: "
        f"{parts or 'none'}. Fix: ask less, raise max_fraction, remove ignore entries, or add "
        "another method (layer removal) for the parts channel pruning cannot reach"
    )


def _targets(config: ChannelConfig) -> dict[str, float]:
    return {k: v for k, v in config.target.given().items() if k in ("params", "macs", "latency")}


def _ignored(model: nn.Module, group: ChannelGroup, ignore: tuple[Any, ...]) -> str:
    for member in group.members:
        if member.is_parameter:
            continue
        module = get_module(model, member.path)
        for item in ignore:
            if isinstance(item, str) and fnmatch.fnmatchcase(member.path, item):
                return f"ignored: {member.path} matches {item!r}"
            if isinstance(item, type) and isinstance(module, item):
                return f"ignored: {member.path} is a {item.__name__}"
            if isinstance(item, nn.Module) and module is item:
                return f"ignored: {member.path}"
    return ""
