"""The equivalence invariant: channels whose every reader ignores them can be removed without
changing the outputs. Used by the zoo-wide tests and by ``verify=True`` pruning."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.graph import ChannelGroup
from prunekit.core.surgery import get_module, is_intra_coupled, is_transposed_linear

_CONV = nn.modules.conv._ConvNd


@torch.no_grad()
def zero_readers(model: nn.Module, group: ChannelGroup, root_indices: Sequence[int]) -> None:
    """Zero the weights that read the given root channels, in every consumer of the group."""
    for member, local in group.member_removals(root_indices):
        if member.dim != "in" or member.is_parameter:
            continue
        module = get_module(model, member.path)
        if is_intra_coupled(module):
            continue  # it only passes the channel on; its own readers are zeroed
        if isinstance(module, nn.Linear):
            module.weight[:, local] = 0
        elif isinstance(module, _CONV) and not module.transposed:
            in_pg = module.in_channels // module.groups
            out_pg = module.out_channels // module.groups
            for channel in local:
                g = channel // in_pg
                module.weight[g * out_pg : (g + 1) * out_pg, channel % in_pg] = 0
        elif isinstance(module, _CONV) or is_transposed_linear(module):
            module.weight[local] = 0  # weight stored (in, out, ...)
        else:
            raise NotImplementedError(f"zeroing readers of {type(module).__name__}")


@torch.no_grad()
def zero_producers(model: nn.Module, group: ChannelGroup, root_indices: Sequence[int]) -> None:
    """Zero the weights, biases and norm affines that produce the given root channels."""
    for member, local in group.member_removals(root_indices):
        if member.dim != "out" or member.is_parameter:
            continue
        module = get_module(model, member.path)
        for name in ("weight", "bias"):
            tensor = getattr(module, name, None)
            if not isinstance(tensor, torch.Tensor):
                continue
            if is_transposed_linear(module) and name == "weight":
                tensor[:, local] = 0
            elif isinstance(module, _CONV) and module.transposed and name == "weight":
                continue  # (in, out/groups, ...): rare as a producer here; readers are zeroed
            else:
                tensor[local] = 0


def relative_error(reference: torch.Tensor, other: torch.Tensor) -> float:
    scale = reference.abs().max().clamp_min(1e-12)
    return float((reference - other).abs().max() / scale)
