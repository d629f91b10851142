"""The equivalence invariant: channels whose every reader ignores them can be removed without
changing the outputs. Used by the zoo-wide tests and by ``verify=True`` pruning."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
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


@dataclass
class Zeroing:
    """The readers zeroed by hooks and those whose hook ran (a reader whose weight the model
    uses without calling it, such as ``F.linear(x, layer.weight)``, is never hooked)."""

    hooked: set[str] = field(default_factory=set)
    called: set[str] = field(default_factory=set)

    @property
    def missed(self) -> set[str]:
        return self.hooked - self.called


@contextmanager
def readers_zeroed(
    model: nn.Module,
    zeroings: Iterable[tuple[ChannelGroup, Sequence[int]]],
    by_hooks: bool = True,
) -> Iterator[Zeroing]:
    """Within the block ``model`` computes what it would after ``zero_readers`` of each (group,
    root channels), and it is left exactly as it was: a reader whose input channel axis is known
    (convolutions, linear layers) gets a forward pre-hook zeroing those input channels, so no
    weight is copied; any other reader (every reader when not ``by_hooks``) is zeroed in place
    and restored from a saved copy of its own tensors. The yielded ``Zeroing`` says, after a
    forward pass, which hooked readers were never called (their zeroing did not happen)."""
    handles = []
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    zeroing = Zeroing()
    try:
        for path, local in _reader_channels(model, zeroings).items():
            module = get_module(model, path)
            slicer = slicer_of(module, path)
            axis = slicer.input_axis(module) if by_hooks else None
            if axis is None:
                saved.extend((t, t.detach().clone()) for t in module.parameters(recurse=False))
                with torch.no_grad():
                    slicer.zero_readers(module, sorted(local))
            else:
                hook = _zero_input(axis, sorted(local), path, zeroing.called)
                handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
                zeroing.hooked.add(path)
        yield zeroing
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


def _zero_input(axis: int, local: Sequence[int], path: str, called: set[str]) -> Any:
    index = torch.as_tensor(list(local), dtype=torch.long)

    def hook(
        _module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        def zeroed(x: torch.Tensor) -> torch.Tensor:
            return x.index_fill(axis, index.to(x.device), 0)

        if args:  # the input is the first argument, or the first keyword (``fc(input=x)``)
            args = (zeroed(args[0]), *args[1:])
        elif kwargs:
            name = next(iter(kwargs))
            kwargs = {**kwargs, name: zeroed(kwargs[name])}
        else:
            return None
        called.add(path)
        return args, kwargs

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
