"""The equivalence invariant: channels whose every reader ignores them can be removed without
changing the outputs. Used by the zoo-wide tests and by ``verify=True`` pruning."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.graph import ChannelGroup
from prunekit.core.slicers import slicer_of
from prunekit.core.surgery import get_module, is_intra_coupled


@torch.no_grad()
def zero_readers(model: nn.Module, group: ChannelGroup, root_indices: Sequence[int]) -> None:
    """Zero the weights that read the given root channels, in every consumer of the group."""
    for member, local in group.member_removals(root_indices):
        if member.dim != "in" or member.is_parameter:
            continue
        module = get_module(model, member.path)
        if is_intra_coupled(module):
            continue  # it only passes the channel on; its own readers are zeroed
        slicer_of(module, member.path).zero_readers(module, local)


@torch.no_grad()
def zero_producers(model: nn.Module, group: ChannelGroup, root_indices: Sequence[int]) -> None:
    """Zero the weights, biases and norm affines that produce the given root channels."""
    for member, local in group.member_removals(root_indices):
        if member.dim != "out" or member.is_parameter:
            continue
        module = get_module(model, member.path)
        slicer_of(module, member.path).zero_producers(module, local)


def relative_error(reference: torch.Tensor, other: torch.Tensor) -> float:
    scale = reference.abs().max().clamp_min(1e-12)
    return float((reference - other).abs().max() / scale)
