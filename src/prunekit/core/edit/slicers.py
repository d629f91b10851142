"""The one table of what prunekit can do with each layer type's channels: their sizes, whether
output channel i reads only input channel i (intra-coupled), slicing, per-channel sums of a
weight-shaped tensor (importance), zeroing the weights that read or produce channels (the
equivalence invariant, feature masks), the channel step the layer imposes (heads, norm groups)
and the axis of its output that holds the channels.

Supporting a new layer type is one ``Slicer`` subclass and one line in ``_TABLE``; surgery,
importance, verification, the dependency analysis and the torch-pruning shims all read this.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.edit.slicer_base import (
    Keep,
    Slicer,
    is_custom_norm,
    is_transposed_linear,
    select,
    set_param,
)
from prunekit.errors import PrunekitError

_CONV = nn.modules.conv._ConvNd
_BATCHNORM = nn.modules.batchnorm._BatchNorm
_INSTANCENORM = nn.modules.instancenorm._InstanceNorm


class _Conv(Slicer):
    mixes = True

    def matches(self, module: nn.Module) -> bool:
        return isinstance(module, _CONV)

    def sizes(self, module: nn.Module) -> tuple[int, int]:
        return module.out_channels, module.in_channels

    def intra_coupled(self, module: nn.Module) -> bool:
        return module.groups == module.in_channels == module.out_channels and module.groups > 1

    def slice(self, module: nn.Module, path: str, keep_out: Keep, keep_in: Keep) -> None:
        conv, groups = module, module.groups
        keep_out = list(range(conv.out_channels)) if keep_out is None else list(keep_out)
        keep_in = list(range(conv.in_channels)) if keep_in is None else list(keep_in)
        in_pg, out_pg = conv.in_channels // groups, conv.out_channels // groups
        ins: list[list[int]] = [[] for _ in range(groups)]  # one pass each: depthwise convs
        outs: list[list[int]] = [[] for _ in range(groups)]  # have as many groups as channels
        for c in keep_in:
            ins[c // in_pg].append(c % in_pg)
        for c in keep_out:
            outs[c // out_pg].append(c)
        alive = [g for g in range(groups) if ins[g] or outs[g]]
        for g in alive:
            if (
                not ins[g]
                or not outs[g]
                or ins[g] != ins[alive[0]]
                or len(outs[g]) != len(outs[alive[0]])
            ):
                raise PrunekitError(
                    f"{path}: {type(conv).__name__} with groups={groups}: the kept channels are "
                    "not balanced across its groups (each group must keep the same input "
                    "positions and the same number of outputs)"
                )
        local_in = ins[alive[0]] if alive else []
        if conv.transposed:  # weight: (in, out / groups, *kernel)
            local_out = [c % out_pg for c in outs[alive[0]]] if alive else []
            weight = select(select(conv.weight, 0, keep_in), 1, local_out)
        else:  # weight: (out, in / groups, *kernel)
            weight = select(select(conv.weight, 0, keep_out), 1, local_in)
        set_param(conv, "weight", weight)
        set_param(conv, "bias", select(conv.bias, 0, keep_out))
        conv.out_channels, conv.in_channels, conv.groups = len(keep_out), len(keep_in), len(alive)

    def per_channel(self, module: nn.Module, dim: str, values: torch.Tensor) -> torch.Tensor | None:
        if module.transposed:
            return None
        if dim == "out":
            return values.flatten(1).sum(1)
        groups, out_pg = module.groups, module.out_channels // module.groups
        return values.reshape(groups, out_pg, values.shape[1], -1).sum((1, 3)).flatten()

    def zero_readers(self, module: nn.Module, local: Sequence[int]) -> None:
        if module.transposed:  # weight: (in, out / groups, *kernel)
            module.weight[list(local)] = 0
            return
        in_pg = module.in_channels // module.groups
        out_pg = module.out_channels // module.groups
        for channel in local:
            g = channel // in_pg
            module.weight[g * out_pg : (g + 1) * out_pg, channel % in_pg] = 0

    def input_axis(self, module: nn.Module) -> int | None:
        return 1 - module.weight.dim()  # channels before the spatial axes, batched or not

    def zero_producers(self, module: nn.Module, local: Sequence[int]) -> None:
        if module.transposed:  # (in, out / groups, ...): rare as a producer; readers are zeroed
            if module.bias is not None:
                module.bias[list(local)] = 0
            return
        super().zero_producers(module, local)


class _Linear(Slicer):
    """``nn.Linear``: weight (out, in). Hugging Face's ``Conv1D`` is the same with the weight's
    axes swapped (``_TransposedLinear``)."""

    mixes = True
    out_axis, out_size, in_size = 0, "out_features", "in_features"

    def matches(self, module: nn.Module) -> bool:
        return isinstance(module, nn.Linear)

    def sizes(self, module: nn.Module) -> tuple[int, int]:
        return getattr(module, self.out_size), getattr(module, self.in_size)

    def slice(self, module: nn.Module, path: str, keep_out: Keep, keep_in: Keep) -> None:
        if keep_out is not None:
            set_param(module, "weight", select(module.weight, self.out_axis, keep_out))
            set_param(module, "bias", select(module.bias, 0, keep_out))
            setattr(module, self.out_size, len(keep_out))
        if keep_in is not None:
            set_param(module, "weight", select(module.weight, 1 - self.out_axis, keep_in))
            if hasattr(module, self.in_size):
                setattr(module, self.in_size, len(keep_in))

    def per_channel(self, module: nn.Module, dim: str, values: torch.Tensor) -> torch.Tensor | None:
        return values.sum(1 - self.out_axis) if dim == "out" else values.sum(self.out_axis)

    def zero_readers(self, module: nn.Module, local: Sequence[int]) -> None:
        _zero(module.weight, 1 - self.out_axis, local)

    def input_axis(self, module: nn.Module) -> int | None:
        return -1

    def zero_producers(self, module: nn.Module, local: Sequence[int]) -> None:
        _zero(module.weight, self.out_axis, local)
        if module.bias is not None:
            _zero(module.bias, 0, local)

    def channel_axis(self, module: nn.Module) -> int:
        return -1


class _TransposedLinear(_Linear):
    """Hugging Face's ``Conv1D``: weight (in, out), ``nf`` outputs, ``nx`` inputs (absent in
    some versions, so the sizes are read from the weight)."""

    out_axis, out_size, in_size = 1, "nf", "nx"

    def matches(self, module: nn.Module) -> bool:
        return is_transposed_linear(module)

    def sizes(self, module: nn.Module) -> tuple[int, int]:
        return int(module.weight.shape[1]), int(module.weight.shape[0])


def _zero(tensor: torch.Tensor, axis: int, local: Sequence[int]) -> None:
    index = torch.as_tensor(list(local), dtype=torch.long, device=tensor.device)
    tensor.index_fill_(axis, index, 0)


class _Embedding(Slicer):
    """Its output channels are the embedding dimensions; vocabulary entries are never removed."""

    mixes = True

    def matches(self, module: nn.Module) -> bool:
        return isinstance(module, nn.Embedding)

    def sizes(self, module: nn.Module) -> tuple[int, int]:
        return module.embedding_dim, module.num_embeddings

    def slice(self, module: nn.Module, path: str, keep_out: Keep, keep_in: Keep) -> None:
        if keep_in is not None:
            raise PrunekitError(f"{path}: removing vocabulary entries is not supported")
        set_param(module, "weight", select(module.weight, 1, keep_out or []))
        module.embedding_dim = len(keep_out or [])

    def per_channel(self, module: nn.Module, dim: str, values: torch.Tensor) -> torch.Tensor | None:
        return values.sum(0) if dim == "out" else None

    def zero_producers(self, module: nn.Module, local: Sequence[int]) -> None:
        module.weight[:, list(local)] = 0  # weight: (vocabulary, embedding dimensions)

    def channel_axis(self, module: nn.Module) -> int:
        return -1


class _MultiheadAttention(Slicer):
    """``nn.MultiheadAttention``: its embedding channels, in and out together, by whole heads."""

    mixes = True
    normalising = True

    def matches(self, module: nn.Module) -> bool:
        return isinstance(module, nn.MultiheadAttention)

    def sizes(self, module: nn.Module) -> tuple[int, int]:
        return module.embed_dim, module.embed_dim

    def intra_coupled(self, module: nn.Module) -> bool:
        return True

    def step(self, module: nn.Module) -> int:
        return module.num_heads

    def slice(self, module: nn.Module, path: str, keep_out: Keep, keep_in: Keep) -> None:
        mha, keep = module, list(keep_out or [])
        if not mha._qkv_same_embed_dim or mha.in_proj_weight is None:
            raise PrunekitError(
                f"{path}: MultiheadAttention with separate kdim/vdim is not supported"
            )
        if len(keep) % mha.num_heads:
            raise PrunekitError(
                f"{path}: MultiheadAttention with {mha.num_heads} heads cannot keep "
                f"{len(keep)} embedding channels (must be a multiple of the heads)"
            )
        e = mha.embed_dim
        keep3 = [i + k * e for k in range(3) for i in keep]
        set_param(mha, "in_proj_weight", select(select(mha.in_proj_weight, 0, keep3), 1, keep))
        set_param(mha, "in_proj_bias", select(mha.in_proj_bias, 0, keep3))
        for name in ("bias_k", "bias_v"):
            set_param(mha, name, select(getattr(mha, name), 2, keep))
        out = mha.out_proj
        set_param(out, "weight", select(select(out.weight, 0, keep), 1, keep))
        set_param(out, "bias", select(out.bias, 0, keep))
        out.in_features = out.out_features = len(keep)
        mha.embed_dim = mha.kdim = mha.vdim = len(keep)
        mha.head_dim = len(keep) // mha.num_heads


class _Elementwise(Slicer):
    """Layers with one value per channel (norms, PReLU): output channel i reads input i only."""

    def __init__(self, types: tuple[type, ...], size: str, scored: bool = False) -> None:
        self.types, self.size, self.scored = types, size, scored

    def matches(self, module: nn.Module) -> bool:
        return isinstance(module, self.types)

    def sizes(self, module: nn.Module) -> tuple[int, int]:
        size = int(getattr(module, self.size))
        return size, size

    def intra_coupled(self, module: nn.Module) -> bool:
        return True

    def slice(self, module: nn.Module, path: str, keep_out: Keep, keep_in: Keep) -> None:
        keep = list(keep_out or [])
        self._check(module, path, keep)
        for name in ("weight", "bias"):
            if getattr(module, name, None) is not None:
                set_param(module, name, select(getattr(module, name), 0, keep))
        for name in ("running_mean", "running_var"):
            if getattr(module, name, None) is not None:
                setattr(module, name, select(getattr(module, name), 0, keep))
        self._resize(module, len(keep))

    def _check(self, module: nn.Module, path: str, keep: list[int]) -> None:
        """Refuse a kept count the layer cannot take."""

    def _resize(self, module: nn.Module, size: int) -> None:
        setattr(module, self.size, size)


class _LayerNorm(_Elementwise):
    normalising = True

    def __init__(self) -> None:
        super().__init__((nn.LayerNorm, nn.RMSNorm), "normalized_shape", scored=True)

    def sizes(self, module: nn.Module) -> tuple[int, int]:
        size = int(module.normalized_shape[-1])
        return size, size

    def _resize(self, module: nn.Module, size: int) -> None:
        module.normalized_shape = (*tuple(module.normalized_shape)[:-1], size)

    def channel_axis(self, module: nn.Module) -> int:
        return -1


class _GroupNorm(_Elementwise):
    normalising = True

    def __init__(self) -> None:
        super().__init__((nn.GroupNorm,), "num_channels", scored=True)

    def step(self, module: nn.Module) -> int:
        return module.num_groups

    def _check(self, module: nn.Module, path: str, keep: list[int]) -> None:
        if len(keep) % module.num_groups:
            raise PrunekitError(
                f"{path}: GroupNorm with {module.num_groups} groups cannot keep "
                f"{len(keep)} channels; the kept count must divide evenly"
            )


class _PReLU(_Elementwise):
    def __init__(self) -> None:
        super().__init__((nn.PReLU,), "num_parameters")

    def _resize(self, module: nn.Module, size: int) -> None:
        if module.num_parameters > 1:
            module.num_parameters = size


class _CustomNorm(_Elementwise):
    """A family's own LayerNorm/RMSNorm (see ``is_custom_norm``): its size attributes, if any,
    follow the kept count."""

    normalising = True

    def __init__(self) -> None:
        super().__init__((), "", scored=True)

    def matches(self, module: nn.Module) -> bool:
        return is_custom_norm(module)

    def sizes(self, module: nn.Module) -> tuple[int, int]:
        return int(module.weight.shape[0]), int(module.weight.shape[0])

    def _resize(self, module: nn.Module, size: int) -> None:
        for name in ("normalized_shape", "hidden_size", "dim"):
            if isinstance(getattr(module, name, None), int):
                setattr(module, name, size)

    def channel_axis(self, module: nn.Module) -> int:
        return -1


_TABLE: tuple[Slicer, ...] = (  # first match wins: the name-recognised layers come first
    _TransposedLinear(),
    _CustomNorm(),
    _Conv(),
    _Linear(),
    _Elementwise((_BATCHNORM,), "num_features", scored=True),
    _Elementwise((_INSTANCENORM,), "num_features"),
    _LayerNorm(),
    _GroupNorm(),
    _PReLU(),
    _Embedding(),
    _MultiheadAttention(),
)


def slicer_for(module: nn.Module) -> Slicer | None:
    """The table's entry for ``module``; ``None`` for a layer prunekit cannot slice."""
    for slicer in _TABLE:
        if slicer.matches(module):
            return slicer
    return None


def slicer_of(module: nn.Module, path: str = "") -> Slicer:
    """``slicer_for``, or an error naming the module and the fix."""
    slicer = slicer_for(module)
    if slicer is None:
        where = f"{path}: " if path else ""
        raise PrunekitError(
            f"{where}channel pruning does not support {type(module).__name__} modules; "
            "fix: leave it out of the pruning (the ignore=[...] option of the method's config)"
        )
    return slicer
