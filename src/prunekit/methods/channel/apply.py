"""The final removal, checked like the trial without holding a copy of the model: a
disagreement between removing the channels and zeroing their readers means a coupling was
analysed wrongly, and the call is refused rather than a silently wrong model returned."""

from __future__ import annotations

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.checks.screen import TOLERANCE, exact_error, float32_output, zeroed_output
from prunekit.core.checks.verify import relative_error
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits
from prunekit.core.model.inputs import ExampleInputs, call_model, primary_output
from prunekit.core.model.modes import eval_mode
from prunekit.errors import PrunekitError

Removal = dict[int, list[int]]


def apply_checked(
    model: nn.Module, groups: list[ChannelGroup], removal: Removal, inputs: ExampleInputs
) -> Plan:
    """Prune ``model`` in place by ``removal`` and return the plan. The reference output (the
    readers of the exact groups' removed channels zeroed) is computed first; the exact groups
    are then removed in place and compared with it, and the groups that normalise over their
    channels (whose removal changes every output) are removed after. Where an axis is removed
    from by both kinds, the check runs on a copy sharing the untouched tensors instead."""
    exact = {p: r for p, r in removal.items() if not groups[p].normalising}
    rest = {p: r for p, r in removal.items() if groups[p].normalising}
    shape = _output_shape(model, inputs) if rest else None
    if rest and _axes(groups, exact) & _axes(groups, rest):
        _refuse_if_wrong(exact_error(model, groups, removal, inputs), model)
        plan = Plan(group_edits(model, groups, removal))
        plan.apply(model)
    else:
        expected = zeroed_output(model, groups, exact, inputs)
        plan = Plan(group_edits(model, groups, exact))
        plan.apply(model)
        if expected is not None:
            _refuse_if_wrong(relative_error(expected, float32_output(model, inputs)), model)
        if rest:  # their indices are on axes the exact removal left as they were
            second = Plan(group_edits(model, groups, rest))
            second.apply(model)
            plan.extend(second.edits)
    if shape is not None:  # the whole removal runs and keeps the output shape
        _refuse_if_broken(model, inputs, shape)
    return plan


def _axes(groups: list[ChannelGroup], removal: Removal) -> set[tuple[str, str]]:
    return {(m.path, m.dim) for p in removal for m in groups[p].members}


def _output_shape(model: nn.Module, inputs: ExampleInputs) -> torch.Size:
    with eval_mode(model), torch.no_grad():
        return primary_output(call_model(model, inputs)).shape


def _refuse_if_broken(model: nn.Module, inputs: ExampleInputs, shape: torch.Size) -> None:
    try:
        got = _output_shape(model, inputs)
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        got, why = None, f"{type(exc).__name__}: {str(exc)[:200]}"
    if got != shape:
        why = f"the output shape changes to {tuple(got)}" if got is not None else why
        raise PrunekitError(
            f"the pruned {type(model).__name__} fails ({why}): the dependency analysis coupled "
            "some channels wrongly. Fix: ignore the modules involved "
            "(ChannelConfig(ignore=[...])) and report the model (with inplace=True the model "
            "passed in is already pruned: rebuild it)"
        )


def _refuse_if_wrong(error: float | None, pruned: nn.Module) -> None:
    if error is not None and error > TOLERANCE:
        raise PrunekitError(
            f"pruning {type(pruned).__name__} failed the equivalence check (relative error "
            f"{error:.2e} > {TOLERANCE:.0e}, compared in float32): the dependency analysis "
            "coupled some channels wrongly. Fix: ignore the modules involved "
            "(ChannelConfig(ignore=[...])) and report the model (with inplace=True the model "
            "passed in may already be pruned: rebuild it)"
        )
