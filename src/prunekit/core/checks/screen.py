"""Screen channel groups before pruning: each must survive a trial removal.

A trial removes half of every group's channels (random, seeded). It must run, keep the output
shape, and, for groups without normalisation over the pruned dimension, give exactly the outputs
of the model whose readers of those channels are zeroed. When the trial fails, the groups are
halved until the failing ones are found; those are left whole, with the reason. This is what
keeps a wrong dependency analysis (of torch-pruning or of a custom layer) from ever producing a
silently wrong model.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.checks.verify import readers_zeroed, relative_error, zero_readers
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits, lowest, removal_count
from prunekit.core.edit.surgery import get_module
from prunekit.core.model.copies import meta_skeleton, on_meta, shared_copy
from prunekit.core.model.inputs import ExampleInputs, call_model, primary_output
from prunekit.core.model.modes import eval_mode
from prunekit.errors import PrunekitError

# Relative output error allowed between zeroing channels and removing them. The comparison
# runs in float32 whatever the model's dtype (half and bfloat16 copies are widened first), so
# rounding never raises a false alarm and the bound does not loosen for low precision.
TOLERANCE = 1e-4


def trial_removal(groups: Sequence[ChannelGroup], seed: int = 0) -> dict[int, list[int]]:
    generator = torch.Generator().manual_seed(seed)
    removal = {}
    for i, group in enumerate(groups):
        scores = torch.rand(group.size, generator=generator)
        chosen = lowest(group, scores, removal_count(group, 0.5))
        if chosen:
            removal[i] = chosen
    return removal


@torch.no_grad()
def passes(
    model: nn.Module,
    groups: Sequence[ChannelGroup],
    removal: dict[int, list[int]],
    inputs: ExampleInputs,
    reference_shape: torch.Size,
    meta: bool = False,
) -> str:
    """'' when removing ``removal`` is sound, else why not. Without normalising groups, the one
    pruned copy serves both checks (it runs; it equals the zeroed model). With them, whether it
    runs is checked on a meta-device skeleton when ``meta`` (the model runs there), so no
    tensor is created; the exact groups are then checked on their own."""
    exact_only = not any(groups[p].normalising for p in removal)
    if exact_only or not meta:
        reason, output = _runs(model, groups, removal, inputs, reference_shape, exact_only)
    else:
        reason, output = _runs_on_meta(model, groups, removal, inputs, reference_shape), None
    if reason:
        return reason
    error = exact_error(model, groups, removal, inputs, output if exact_only else None)
    if error is not None and error > TOLERANCE:
        return (
            f"removing zeroed channels changes the outputs (relative error {error:.1e} > "
            f"{TOLERANCE:.0e}, compared in float32)"
        )
    return ""


@torch.no_grad()
def exact_error(
    model: nn.Module,
    groups: Sequence[ChannelGroup],
    removal: dict[int, list[int]],
    inputs: ExampleInputs,
    pruned_output: torch.Tensor | None = None,
) -> float | None:
    """Relative output difference between zeroing the readers of the removed channels and
    removing them, over the groups without a normalisation over the pruned dimension (None when
    there is no such group). ``pruned_output``: the float32 output of the model with exactly
    these removals, when the caller has it already. A float32 model is neither copied nor
    changed: the pruned model shares its untouched tensors and the zeroing is done by hooks."""
    exact = {p: r for p, r in removal.items() if not groups[p].normalising}
    if not exact:
        return None
    if pruned_output is None:
        pruned = _float32_copy(model)
        Plan(group_edits(model, list(groups), exact)).apply(pruned)
        pruned_output = float32_output(pruned, inputs)
        del pruned
    reference = zeroed_output(model, groups, exact, inputs)
    assert reference is not None
    return relative_error(reference, pruned_output.float())


@torch.no_grad()
def zeroed_output(
    model: nn.Module,
    groups: Sequence[ChannelGroup],
    removal: dict[int, list[int]],
    inputs: ExampleInputs,
) -> torch.Tensor | None:
    """The float32 output of ``model`` with the readers of the removed channels zeroed, over the
    groups without a normalisation over the pruned dimension (None when there is none): what
    the pruned model must give. ``model`` is left as it was."""
    zeroings = [(groups[p], r) for p, r in removal.items() if not groups[p].normalising]
    if not zeroings:
        return None
    if _is_low(model):
        zeroed = _float32_copy(model)
        for group, roots in zeroings:
            zero_readers(zeroed, group, roots)
        return float32_output(zeroed, inputs)
    with readers_zeroed(model, zeroings) as zeroing:
        output = float32_output(model, inputs)
    if zeroing.missed:  # a reader used without being called: its weights are zeroed instead
        with readers_zeroed(model, zeroings, by_hooks=False):
            output = float32_output(model, inputs)
    return output


@torch.no_grad()
def float32_output(model: nn.Module, inputs: ExampleInputs) -> torch.Tensor:
    """The primary output in eval mode, computed in float32 (a half or bfloat16 model on a
    widened copy)."""
    if _is_low(model):
        model = _float32_copy(model)
    with eval_mode(model):
        return primary_output(call_model(model, _float32_inputs(inputs))).float()


def _float32_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy to prune or zero: half and bfloat16 models are copied and widened to
    float32; a float32 model's copy shares its tensors (pruning replaces them, never writes)."""
    if not _is_low(model):
        return shared_copy(model).eval()
    return copy.deepcopy(model).eval().float()


def _is_low(model: nn.Module) -> bool:
    return any(t.dtype in _LOW for t in (*model.parameters(), *model.buffers()))


def _float32_inputs(inputs: ExampleInputs) -> ExampleInputs:
    def widen(value: object) -> object:
        if isinstance(value, torch.Tensor) and value.dtype in _LOW:
            return value.float()
        return value

    if isinstance(inputs, torch.Tensor):
        return widen(inputs)  # type: ignore[return-value]
    if isinstance(inputs, dict):
        return {k: widen(v) for k, v in inputs.items()}
    return type(inputs)(widen(v) for v in inputs)  # type: ignore[call-arg]


_LOW = (torch.float16, torch.bfloat16)


def _runs(
    model: nn.Module,
    groups: Sequence[ChannelGroup],
    removal: dict[int, list[int]],
    inputs: ExampleInputs,
    reference_shape: torch.Size,
    widen: bool,
) -> tuple[str, torch.Tensor | None]:
    """Why the pruned model fails to run or changes the output shape ('' when it does not), and
    its output (from a float32 copy when ``widen``)."""
    try:
        pruned = _float32_copy(model) if widen else shared_copy(model).eval()
        Plan(group_edits(model, list(groups), removal)).apply(pruned)
        output = primary_output(call_model(pruned, _float32_inputs(inputs) if widen else inputs))
    except (PrunekitError, RuntimeError, ValueError, IndexError, TypeError) as exc:
        return f"the pruned model fails: {type(exc).__name__}: {str(exc)[:120]}", None
    if output.shape != reference_shape:
        return f"the output shape changes to {tuple(output.shape)}", None
    return "", output


# Groups are tried together in chunks touching at most this share of the model's parameters,
# so that a trial's pruned copy (new tensors for every module it touches) stays small.
CHUNK_SHARE = 0.25


def _chunks(model: nn.Module, groups: Sequence[ChannelGroup]) -> list[list[int]]:
    """Consecutive group positions, cut where the parameters of the modules the chunk touches
    would pass ``CHUNK_SHARE`` of the model's (a group larger than that is a chunk alone)."""
    total = max(1, sum(p.numel() for p in model.parameters()))
    chunks: list[list[int]] = [[]]
    volume = 0
    for position, group in enumerate(groups):
        paths = {m.path for m in group.members if not m.is_parameter}
        size = sum(
            p.numel() for path in paths for p in get_module(model, path).parameters(recurse=False)
        )
        if chunks[-1] and volume + size > CHUNK_SHARE * total:
            chunks.append([])
            volume = 0
        chunks[-1].append(position)
        volume += size
    return chunks


def _runs_on_meta(
    model: nn.Module,
    groups: Sequence[ChannelGroup],
    removal: dict[int, list[int]],
    inputs: ExampleInputs,
    reference_shape: torch.Size,
) -> str:
    """``_runs``'s verdict from a meta-device skeleton: shapes only, no tensor data."""
    try:
        pruned = meta_skeleton(model).eval()
        Plan(group_edits(model, list(groups), removal)).apply(pruned)
        shape = primary_output(call_model(pruned, on_meta(inputs))).shape
    except (PrunekitError, RuntimeError, ValueError, IndexError, TypeError) as exc:
        return f"the pruned model fails: {type(exc).__name__}: {str(exc)[:120]}"
    return "" if shape == reference_shape else f"the output shape changes to {tuple(shape)}"


def _runs_on_meta_device(model: nn.Module, inputs: ExampleInputs, shape: torch.Size) -> bool:
    try:
        output = call_model(meta_skeleton(model).eval(), on_meta(inputs))
    except Exception:  # a forward that reads values: the trial runs on real tensors
        return False
    return primary_output(output).shape == shape


def screen(
    model: nn.Module, groups: list[ChannelGroup], inputs: ExampleInputs, seed: int = 0
) -> tuple[list[ChannelGroup], list[tuple[str, str]]]:
    """The groups that pass the trial, and (root, reason) for those that do not. The trial
    runs in chunks of groups (``CHUNK_SHARE``); the final removal is checked whole."""
    with eval_mode(model), torch.no_grad():
        reference = primary_output(call_model(model, inputs)).shape
        meta = _runs_on_meta_device(model, inputs, reference)
    removal = trial_removal(groups, seed)
    bad: list[tuple[str, str]] = []

    def search(positions: list[int]) -> None:
        subset = {p: removal[p] for p in positions if p in removal}
        if not subset:
            return
        reason = passes(model, groups, subset, inputs, reference, meta)
        if not reason:
            return
        if len(positions) == 1:
            bad.append((groups[positions[0]].root, f"failed the trial removal: {reason}"))
            return
        half = len(positions) // 2
        search(positions[:half])
        search(positions[half:])

    for chunk in _chunks(model, groups):
        search(chunk)
    failed = {root for root, _ in bad}
    survivors = [p for p, g in enumerate(groups) if g.root not in failed]
    together = {p: removal[p] for p in survivors if p in removal}
    if meta and together and _runs_on_meta(model, groups, together, inputs, reference):
        search(survivors)  # groups of different chunks fail together: find which, for real
        failed = {root for root, _ in bad}
    return [g for g in groups if g.root not in failed], bad
