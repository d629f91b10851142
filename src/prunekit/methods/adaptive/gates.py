"""AdaptiveGates: the gates of one model, their cost-weighted L1 penalty, and the callbacks a
training loop calls (the library's ``fit`` or your own)."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGraph, ChannelGroup
from prunekit.core.analysis.units import Unit, find_units
from prunekit.core.budget.fractions import KeptFractions
from prunekit.core.budget.metrics import count_params
from prunekit.core.checks.screen import screen
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits, unit
from prunekit.core.edit.surgery import get_module
from prunekit.core.model.inputs import ExampleInputs
from prunekit.errors import PrunekitError
from prunekit.methods.adaptive import channel_gates, layer_gates
from prunekit.methods.adaptive.config import AdaptiveConfig
from prunekit.methods.adaptive.layer_gates import LayerGate
from prunekit.methods.outcome import MethodOutcome

SMALL = 0.05  # a gate below this magnitude counts as switched off in the history


class AdaptiveGates:
    """Gates on ``model`` (edited in place): a scalar per residual branch, and per channel
    group its batch-norm scales or a channel gate vector.

    In your own loop::

        gates = AdaptiveGates(model, pk.AdaptiveConfig(target=pk.Target(params=0.5)), x)
        optimizer = torch.optim.AdamW(gates.param_groups(), lr=1e-3)
        for epoch in range(epochs):
            for inputs, labels in loader:
                loss = criterion(model(inputs), labels) + gates.penalty()
                ...
            gates.epoch_end(epoch)
        outcome = gates.prune()   # gates folded away, layers and channels removed
    """

    def __init__(
        self, model: nn.Module, config: AdaptiveConfig, example_inputs: ExampleInputs
    ) -> None:
        self.model, self.config, self.example_inputs = model, config, example_inputs
        self.total = count_params(model)
        self._kept = KeptFractions(model, example_inputs, ("params",))
        self.skipped: list[dict[str, str]] = []
        self.history: list[dict[str, Any]] = []
        self.units: list[Unit] = []
        self.layers: list[LayerGate] = []
        self.channels: list[channel_gates.ChannelGate] = []
        if config.layers:
            self.layers = self._layer_gates()
            if not self.layers:
                warnings.warn(
                    f"{type(model).__name__} has no residual block whose branch a gate can "
                    "switch off: adaptive pruning is channel-only for this model",
                    stacklevel=3,
                )
        if config.channels:
            self.channels = self._channel_gates()
        if not self.layers and not self.channels:
            raise PrunekitError(
                f"{type(model).__name__} has neither a gateable residual block nor a prunable "
                f"channel group (skipped: {self.skipped or 'none found'})"
            )
        self._handles = [layer_gates.attach(model, g) for g in self.layers]
        for gate in self.channels:
            self._handles.extend(channel_gates.attach(model, gate))

    def _layer_gates(self) -> list[LayerGate]:
        model, inputs = self.model, self.example_inputs
        try:
            self.units = find_units(model, inputs, self.config.units)
        except PrunekitError as error:
            self.skipped.append({"what": "layers", "reason": str(error)})
            return []
        ends = layer_gates.branch_ends(model, self.units, inputs)
        gates = [
            LayerGate(u.path, ends[u.path], count_params(get_module(model, u.path)))
            for u in self.units
            if u.path in ends
        ]
        handles = [layer_gates.attach(model, g) for g in gates]
        try:
            errors = layer_gates.exact_at_zero(model, gates, inputs)
        finally:
            for gate, handle in zip(gates, handles, strict=True):
                handle.remove()
                delattr(get_module(model, gate.end), layer_gates.GATE)
        for u in self.units:
            if u.removable and u.path not in ends:
                self.skipped.append({"what": u.path, "reason": "no branch end found"})
        for gate in gates:
            if errors[gate.unit] > 1e-5:
                self.skipped.append(
                    {
                        "what": gate.unit,
                        "reason": f"gating {gate.end} at 0 does not make the unit an identity "
                        f"(relative error {errors[gate.unit]:.1e}): no layer gate",
                    }
                )
        return [g for g in gates if errors[g.unit] <= 1e-5]

    def _channel_gates(self) -> list[channel_gates.ChannelGate]:
        model = self.model
        graph = ChannelGraph(model, self.example_inputs)
        groups = [g for g in graph.groups() if not g.normalising]
        self.skipped.extend({"what": r, "reason": why} for r, why in graph.skipped)
        checked, failed = screen(model, groups, self.example_inputs, self.config.seed)
        self.skipped.extend({"what": r, "reason": why} for r, why in failed)
        gates = []
        for group in checked:
            gate = channel_gates.make(model, len(gates), group, self._channel_cost(group))
            if gate is None:
                self.skipped.append({"what": group.root, "reason": "no layer can carry a gate"})
            else:
                gates.append(gate)
        return gates

    def _channel_cost(self, group: ChannelGroup) -> float:
        """Parameters removed per channel of ``group`` (measured by removing one step)."""
        step = unit(group)
        plan = Plan(group_edits(self.model, [group], {0: list(range(step))}))
        return (self.total - self._kept.counts_of_plan(plan)["params"]) / step

    def penalty(self) -> torch.Tensor:
        """lambda * sum over gates of |gate| * (parameters it controls) / (model parameters)."""
        terms = [g.gate.abs() * (g.cost / self.total) for g in self.layers]
        terms += [g.l1(self.model) * (g.cost / self.total) for g in self.channels]
        return self.config.penalty * torch.stack(terms).sum()

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups: the gates (layer gates, channel gate vectors, gated batch-norm
        scales) at ``config.gate_lr``, everything else at the optimizer's own rate. Adam moves a
        parameter by about its learning rate per step whatever the penalty, so gates need a
        larger rate to reach zero within a few epochs."""
        gates = [g.gate for g in self.layers]
        for channel in self.channels:
            if channel.gate is not None:
                gates.append(channel.gate)
            gates.extend(get_module(self.model, n.path).weight for n in channel.norms)
        chosen = {id(p) for p in gates}
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in chosen]
        unique = list({id(p): p for p in gates}.values())
        return [{"params": rest}, {"params": unique, "lr": self.config.gate_lr}]

    def layer_scores(self) -> dict[str, float]:
        return {g.unit: float(g.gate.detach().abs()) for g in self.layers}

    def epoch_end(self, epoch: int) -> None:
        """Record the gates: every layer gate, and the share of channel gates below 0.05."""
        channels = [g.scores(self.model) for g in self.channels]
        small = float((torch.cat(channels) < SMALL).double().mean()) if channels else 0.0
        self.history.append(
            {"epoch": epoch, "layer_gates": self.layer_scores(), "channel_gates_small": small}
        )

    def remove(self) -> None:
        """Fold every gate into the weights and take the hooks off (the model is plain again)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for gate in self.layers:
            layer_gates.fold(self.model, gate)
        for channel in self.channels:
            channel_gates.fold(self.model, channel)

    def prune(self) -> MethodOutcome:
        """Fold the gates, then remove the lowest-ranked layers and channels for the target."""
        from prunekit.methods.adaptive.allocate import allocate, apply

        scores = self.layer_scores()
        channel_scores = [g.scores(self.model) for g in self.channels]
        self.remove()
        allocation = allocate(self, scores, channel_scores)
        plan = apply(self, allocation)
        details = {
            **allocation.details(self),
            "history": self.history,
            "layer_gates": scores,
            "skipped": self.skipped,
        }
        return MethodOutcome(self.model, plan, details)
