"""The equivalence invariant: channels whose every reader ignores them can be removed without
changing the outputs. Used by the zoo-wide tests and by ``verify=True`` pruning."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGroup
from prunekit.core.edit.slicers import slicer_of
from prunekit.core.edit.surgery import get_module, is_intra_coupled


@torch.no_grad()
def zero_readers(model: nn.Module, group: ChannelGroup, root_indices: Sequence[int]) -> None:
    """Zero the weights that read the given root channels, in every consumer of the group."""
    for path, local in _reader_channels(model, [(group, root_indices)]).items():
        module = get_module(model, path)
        slicer_of(module, path).zero_readers(module, sorted(local))


@contextmanager
def readers_zeroed(
    model: nn.Module, zeroings: Iterable[tuple[ChannelGroup, Sequence[int]]]
) -> Iterator[None]:
    """Within the block ``model`` computes what it would after ``zero_readers`` of each (group,
    root channels), and it is left exactly as it was: a reader whose input channel axis is known
    (convolutions, linear layers) gets a forward pre-hook zeroing those input channels, so no
    weight is copied; any other reader is zeroed in place and restored from a saved copy of its
    own tensors."""
    handles = []
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        for path, local in _reader_channels(model, zeroings).items():
            module = get_module(model, path)
            slicer = slicer_of(module, path)
            axis = slicer.input_axis(module)
            if axis is None:
                saved.extend((t, t.detach().clone()) for t in module.parameters(recurse=False))
                with torch.no_grad():
                    slicer.zero_readers(module, sorted(local))
            else:
                handles.append(module.register_forward_pre_hook(_zero_input(axis, sorted(local))))
        yield
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for tensor, value in saved:
                tensor.copy_(value)


def _reader_channels(
    model: nn.Module, zeroings: Iterable[tuple[ChannelGroup, Sequence[int]]]
) -> dict[str, set[int]]:
    """Module path -> the input channels of it that read the given root channels (layers that
    only pass a channel on are left out: their own readers are zeroed)."""
    out: dict[str, set[int]] = defaultdict(set)
    for group, roots in zeroings:
        for member, local in group.member_removals(roots):
            if member.dim != "in" or member.is_parameter:
                continue
            if not is_intra_coupled(get_module(model, member.path)):
                out[member.path].update(local)
    return out


def _zero_input(axis: int, local: Sequence[int]) -> Any:
    index = torch.as_tensor(list(local), dtype=torch.long)

    def hook(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        first = args[0]
        return (first.index_fill(axis, index.to(first.device), 0), *args[1:])

    return hook


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
