"""Plan: every structural edit as JSON, replayable on a freshly built base model.

An edit names a module path and what to keep, relative to that module's size just before the
edit (core/edit/edits.py). Replay runs the same slicers as pruning (core/edit/surgery.py), so a
replayed model is the pruned model, and every edit is checked against the model it is applied to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from prunekit.core.edit.block_edits import LayersEdit, ReplaceEdit
from prunekit.core.edit.edits import (
    AttrEdit,
    ChannelEdit,
    Keep,
    ParameterEdit,
    PlanError,
    RemoveEdit,
    channel_edits,
    check_fields,
)
from prunekit.core.edit.inputs_edit import InputsEdit
from prunekit.core.edit.tied import retie, tied_parameters

__all__ = [
    "ATTRIBUTE_RULES",
    "AttrEdit",
    "ChannelEdit",
    "Edit",
    "Keep",
    "LayersEdit",
    "ParameterEdit",
    "Plan",
    "PlanError",
    "RemoveEdit",
    "ReplaceEdit",
    "channel_edits",
]

Edit = ChannelEdit | ParameterEdit | AttrEdit | RemoveEdit | LayersEdit | ReplaceEdit | InputsEdit
EDIT_TYPES: dict[str, Any] = {
    t.op: t
    for t in (ChannelEdit, ParameterEdit, AttrEdit, RemoveEdit, LayersEdit, ReplaceEdit, InputsEdit)
}

PLAN_FORMAT = "prunekit.plan"
PLAN_VERSION = 1

# Rules that derive attribute edits from a model's shapes (registered by prunekit.models).
AttributeRule = Callable[[nn.Module], list[AttrEdit]]
ATTRIBUTE_RULES: list[AttributeRule] = []


@dataclass
class Plan:
    """An ordered list of structural edits; ``apply`` replays them on a model."""

    edits: list[Edit] = field(default_factory=list)

    def apply(self, model: nn.Module) -> nn.Module:
        """Replay every edit on ``model``. Attribute updates that the new shapes imply (such as
        torchvision ViT's ``hidden_dim``) are applied too and appended to the plan, so a saved
        plan lists them and its replay needs no rule. Tied parameters stay tied."""
        tied = tied_parameters(model)
        for number, edit in enumerate(self.edits):
            edit.apply(model, f"plan edit {number} ({edit.op})")
        for rule in ATTRIBUTE_RULES:
            for edit in rule(model):
                edit.apply(model, f"plan edit {len(self.edits)} ({edit.op})")
                self.edits.append(edit)
        retie(model, tied, "plan")
        return model

    def extend(self, edits: Iterable[Edit]) -> None:
        self.edits.extend(edits)

    def __len__(self) -> int:
        return len(self.edits)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "edits": [edit.to_json() for edit in self.edits],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1)

    @classmethod
    def from_json(cls, data: Any) -> Plan:
        if not isinstance(data, dict):
            raise PlanError("plan must be a JSON object")
        check_fields(data, {"format", "version", "edits"}, "plan")
        if data.get("format") != PLAN_FORMAT:
            raise PlanError(f"plan 'format' is {data.get('format')!r}, expected {PLAN_FORMAT!r}")
        version = data.get("version")
        if version != PLAN_VERSION:
            raise PlanError(
                f"plan 'version' is {version!r}; this prunekit reads version "
                f"{PLAN_VERSION}: upgrade prunekit to read newer plans"
            )
        edits = data.get("edits")
        if not isinstance(edits, list):
            raise PlanError("plan 'edits' must be a list")
        parsed: list[Edit] = []
        for number, item in enumerate(edits):
            where = f"plan edit {number}"
            if not isinstance(item, dict) or item.get("op") not in EDIT_TYPES:
                raise PlanError(f"{where}: 'op' must be one of {sorted(EDIT_TYPES)}")
            parsed.append(EDIT_TYPES[item["op"]].from_json(item, where))
        return cls(parsed)

    @classmethod
    def loads(cls, text: str) -> Plan:
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise PlanError(f"plan is not valid JSON: {exc}") from exc
