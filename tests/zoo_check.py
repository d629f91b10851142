"""The zoo-wide invariant, shared by the torchvision, timm and Hugging Face zoo tests.

For a model: perturb its weights (so degenerate initialisations such as zero heads or 1e-6
layer scales cannot hide an error), find its channel groups, and remove a random half of every
group's channels:
1. groups without normalisation over the pruned dimension: zeroing the weights that read the
   removed channels, then removing them, gives the same outputs (1e-5 relative);
2. groups with it (LayerNorm, GroupNorm, attention scale): the pruned model gives the zeroed
   model's input to the first such norm, on the kept channels ("up to that point");
3. the fully pruned model runs forward and backward with the original output shape, in eval
   mode and in training mode (where auxiliary heads run and batch norms use batch statistics);
4. pk.save / pk.load of the fully pruned model is bit-exact.
"""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import prunekit as pk
from prunekit.core.analysis.graph import ChannelGraph, ChannelGroup
from prunekit.core.checks.screen import exact_error, screen, trial_removal
from prunekit.core.checks.verify import relative_error, zero_readers
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits
from prunekit.core.edit.slicer_base import is_custom_norm
from prunekit.core.edit.surgery import dim_size, get_module
from prunekit.core.model.inputs import call_model, primary_output

EXACT_TOLERANCE = 1e-5


@dataclass
class ZooReport:
    groups: int
    failed: list[tuple[str, str]]
    exact_error: float
    normalised_error: float | None
    params_kept: float
    skipped: list[tuple[str, str]] = field(default_factory=list)  # by the analysis: (root, why)
    notes: list[str] = field(default_factory=list)


@torch.no_grad()
def perturb(model: nn.Module, seed: int = 0) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    for param in model.parameters():
        if param.is_floating_point():
            param.add_(torch.randn(param.shape, generator=generator) * 0.02)
    return model.eval()


def _norm_inputs(model: nn.Module, paths: list[str], inputs: Any) -> dict[str, torch.Tensor]:
    seen: dict[str, torch.Tensor] = {}
    handles = []
    for path in paths:

        def hook(_m: nn.Module, args: tuple, path: str = path) -> None:
            if path not in seen and args and isinstance(args[0], torch.Tensor):
                seen[path] = args[0].detach()

        handles.append(get_module(model, path).register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            call_model(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _first_norm_error(
    model: nn.Module, groups: list[ChannelGroup], removal: dict[int, list[int]], inputs: Any
) -> float | None:
    norm_groups = {p: r for p, r in removal.items() if groups[p].normalising}
    if not norm_groups:
        return None
    zeroed, pruned = copy.deepcopy(model), copy.deepcopy(model)
    for position, roots in removal.items():
        zero_readers(zeroed, groups[position], roots)
    Plan(group_edits(model, groups, removal)).apply(pruned)
    paths = [
        p
        for g in norm_groups
        for p in groups[g].normalising
        if isinstance(get_module(model, p), nn.LayerNorm | nn.RMSNorm | nn.GroupNorm)
        or is_custom_norm(get_module(model, p))
    ]
    if not paths:
        return None
    reference, actual = _norm_inputs(zeroed, paths, inputs), _norm_inputs(pruned, paths, inputs)
    order = list(reference)  # execution order of the first calls
    if not order:
        return None
    first = order[0]
    module = get_module(model, first)
    kept = _kept(groups, norm_groups, first, module)
    ref, act = reference[first], actual[first]
    # the channel axis: where the zoo model's size shrank to the kept count (NCHW LayerNorm2d
    # normalises axis 1, token LayerNorms the last axis)
    axis = next((a for a in range(ref.dim()) if ref.shape[a] != act.shape[a]), None)
    if axis is None:
        return relative_error(ref, act)
    return relative_error(ref.index_select(axis, torch.as_tensor(kept)), act)


def _kept(
    groups: list[ChannelGroup], removal: dict[int, list[int]], path: str, module: nn.Module
) -> list[int]:
    size = dim_size(module, "out")
    removed: set[int] = set()
    for position, roots in removal.items():
        for member, local in groups[position].member_removals(roots):
            if member.path == path:
                removed.update(local)
    return [i for i in range(size) if i not in removed]


def check_model(model: nn.Module, inputs: Any, tmp: Path | None = None) -> ZooReport:
    model = perturb(model)
    graph = ChannelGraph(model, inputs)
    groups = graph.groups()
    good, failed = screen(model, groups, inputs)
    removal = trial_removal(good)
    exact = exact_error(model, good, removal, inputs) or 0.0
    normalised_error = _first_norm_error(model, good, removal, inputs)
    plan = Plan(group_edits(model, good, removal))
    full = plan.apply(copy.deepcopy(model)).eval()
    with torch.no_grad():
        reference_shape = primary_output(call_model(model, inputs)).shape
    for training in (False, True):
        full.train(training)
        output = call_model(full, inputs)
        assert primary_output(output).shape == reference_shape
        sum(t.float().pow(2).mean() for t in _tensors(output)).backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in full.parameters())
        full.zero_grad(set_to_none=True)
    full.eval()
    params_kept = pk.core.budget.metrics.count_params(full) / pk.core.budget.metrics.count_params(
        model
    )
    if tmp is not None:
        pk.save(full, tmp, plan=plan)
        loaded = pk.load(tmp)
        reloaded = loaded.state_dict()
        for key, value in full.state_dict().items():
            assert torch.equal(reloaded[key], value), key
        with torch.no_grad():
            assert torch.equal(
                primary_output(call_model(loaded, inputs)), primary_output(call_model(full, inputs))
            )
    return ZooReport(len(groups), failed, exact, normalised_error, params_kept, graph.skipped)


def _tensors(output: Any) -> list[torch.Tensor]:
    """Every floating tensor of a model output that autograd can reach (aux heads included)."""
    if isinstance(output, torch.Tensor):
        return [output] if output.is_floating_point() and output.requires_grad else []
    if hasattr(output, "to_tuple"):
        output = output.to_tuple()
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, list | tuple):
        return [t for item in output for t in _tensors(item)]
    return []


def _unexpected(pairs: list[tuple[str, str]], patterns: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(r, why) for r, why in pairs if not any(fnmatch.fnmatchcase(r, p) for p in patterns)]


def patterns_for(name: str, table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The root patterns of every entry of ``table`` whose key (an fnmatch pattern of model
    names) matches ``name``."""
    return tuple(p for key, ps in table.items() if fnmatch.fnmatchcase(name, key) for p in ps)


def assert_sound(
    report: ZooReport, left_whole: tuple[str, ...] = (), skipped: tuple[str, ...] = ()
) -> None:
    """No group failed the trial except those documented (fnmatch patterns of their roots),
    no group was skipped by the dependency analysis except those documented (a group it cannot
    list never reaches the invariant, so an unlisted skip would hide a regression), the
    invariant holds, and something was pruned."""
    assert _unexpected(report.failed, left_whole) == []
    assert _unexpected(report.skipped, skipped) == []
    assert report.exact_error <= EXACT_TOLERANCE
    if report.normalised_error is not None:
        assert report.normalised_error <= EXACT_TOLERANCE
    assert report.params_kept < 0.9
