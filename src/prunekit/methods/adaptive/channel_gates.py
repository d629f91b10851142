"""Channel gates: the batch-norm scales of a channel group (Network Slimming), or, in a group
without batch norm, a learned vector multiplying the output channels of every layer that
produces the group's channels (folded into their weights afterwards)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.edit.slicers import slicer_of
from prunekit.core.edit.surgery import get_module

GATE = "adaptive_channel_gate"
_BATCHNORM = nn.modules.batchnorm._BatchNorm
_CONV = nn.modules.conv._ConvNd


@dataclass
class Slice:
    """Channels ``local`` of the module at ``path`` are root channels ``roots`` of the group."""

    path: str
    local: torch.Tensor
    roots: torch.Tensor


@dataclass
class ChannelGate:
    position: int  # index of the group in the list of gated groups
    group: ChannelGroup
    cost: float  # parameters per channel
    norms: list[Slice]  # batch-norm members (their scales are the gates)
    producers: list[Slice]  # conv/linear producers, when the group has no batch norm
    gate: nn.Parameter | None = None

    def scores(self, model: nn.Module) -> torch.Tensor:
        """|gate| per root channel (mean over the group's batch norms)."""
        if self.gate is not None:
            return self.gate.detach().abs().double().cpu()
        total = torch.zeros(self.group.size, dtype=torch.float64)
        for part in self.norms:
            weight = get_module(model, part.path).weight.detach().abs().double().cpu()
            total.index_add_(0, part.roots, weight[part.local])
        return total / len(self.norms)

    def l1(self, model: nn.Module) -> torch.Tensor:
        """The sum over root channels of |gate| (mean over the batch norms), differentiable."""
        if self.gate is not None:
            return self.gate.abs().sum()
        terms = []
        for part in self.norms:
            weight = get_module(model, part.path).weight
            terms.append(weight[part.local.to(weight.device)].abs().sum())
        return torch.stack(terms).sum() / len(self.norms)


def make(model: nn.Module, position: int, group: ChannelGroup, cost: float) -> ChannelGate | None:
    """The gate of one group: its batch norms, else its conv/linear producers; None if neither
    (e.g. channels produced by a layer that cannot carry a gate)."""
    norms, producers, others = [], [], 0
    for member, roots in zip(group.members, group.member_roots, strict=True):
        if member.is_parameter:
            continue
        module = get_module(model, member.path)
        part = Slice(member.path, torch.tensor(member.indices), torch.tensor(roots))
        if isinstance(module, _BATCHNORM) and module.weight is not None:
            norms.append(part)
        elif member.dim == "out" and _producer(module):
            producers.append(part)
        elif member.dim == "out":
            others += 1
    if norms:
        return ChannelGate(position, group, cost, norms, [])
    if producers and not others:
        vector = nn.Parameter(torch.ones(group.size))
        return ChannelGate(position, group, cost, [], producers, vector)
    return None


def attach(model: nn.Module, gate: ChannelGate) -> list[Any]:
    """Register a producer gate and multiply each producer's output channels by it."""
    if gate.gate is None:
        return []
    get_module(model, gate.producers[0].path).register_parameter(GATE, gate.gate)
    handles = []
    for part in gate.producers:
        module = get_module(model, part.path)

        def hook(m: nn.Module, _i: Any, out: torch.Tensor, part: Slice = part) -> torch.Tensor:
            assert gate.gate is not None
            scale = torch.ones(out.shape[_dim(m)], dtype=out.dtype, device=out.device)
            scale = scale.index_copy(0, part.local.to(out.device), gate.gate[part.roots].to(out))
            shape = [1] * out.dim()
            shape[_dim(m)] = -1
            return out * scale.view(shape)

        handles.append(module.register_forward_hook(hook))
    return handles


def _producer(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or (isinstance(module, _CONV) and not module.transposed)


def _dim(module: nn.Module) -> int:
    return slicer_of(module).channel_axis(module)


@torch.no_grad()
def fold(model: nn.Module, gate: ChannelGate) -> None:
    """Multiply each producer's output rows (weight and bias) by the gate; drop the parameter."""
    if gate.gate is None:
        return
    for part in gate.producers:
        module = get_module(model, part.path)
        values = gate.gate.detach()[part.roots].to(module.weight)
        shape = [-1] + [1] * (module.weight.dim() - 1)
        module.weight[part.local] *= values.view(shape)
        if module.bias is not None:
            module.bias[part.local] *= values
    delattr(get_module(model, gate.producers[0].path), GATE)
