"""Physical edits of modules: keep some output / input channels of a layer, or part of a tensor.

No torch-pruning here: these slicers are what both pruning and plan replay run, so a model
rebuilt from a plan is edited by exactly the code that edited the original.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from prunekit.errors import PrunekitError

_BATCHNORM = nn.modules.batchnorm._BatchNorm
_INSTANCENORM = nn.modules.instancenorm._InstanceNorm
_CONV = nn.modules.conv._ConvNd


def get_module(model: nn.Module, path: str) -> nn.Module:
    """The submodule at ``path``; a clear error naming the first missing part."""
    if path == "":
        return model
    module = model
    for part in path.split("."):
        child = getattr(module, part, None) if hasattr(module, part) else None
        if not isinstance(child, nn.Module):
            raise PrunekitError(
                f"module path {path!r} does not exist in {type(model).__name__} (no submodule "
                f"{part!r}); the plan or name refers to another model"
            )
        module = child
    return module


def set_module(model: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = get_module(model, parent_path)
    if isinstance(parent, nn.ModuleList | nn.Sequential) and name.isdigit():
        parent[int(name)] = new
    else:
        setattr(parent, name, new)


def dim_size(module: nn.Module, dim: str) -> int:
    """How many channels ``module`` has along ``dim`` ("out" or "in")."""
    sizes = _sizes(module)
    if sizes is None:
        raise PrunekitError(
            f"channel pruning does not support {type(module).__name__} modules; "
            "fix: ignore this module (ChannelConfig(ignore=[...]))"
        )
    out, inp = sizes
    return out if dim == "out" else inp


def is_transposed_linear(module: nn.Module) -> bool:
    """Hugging Face's ``Conv1D`` (GPT-2): a linear layer whose weight is stored (in, out)."""
    weight = getattr(module, "weight", None)
    return (
        type(module).__name__ == "Conv1D"
        and hasattr(module, "nf")
        and isinstance(weight, torch.Tensor)
        and weight.dim() == 2
    )


def is_custom_norm(module: nn.Module) -> bool:
    """A model family's own LayerNorm/RMSNorm (LlamaRMSNorm, Qwen2RMSNorm, T5LayerNorm...):
    an element-wise scale over the last dimension, recognised by name and a 1-D weight."""
    name = type(module).__name__
    weight = getattr(module, "weight", None)
    return (
        not isinstance(module, nn.LayerNorm | nn.RMSNorm)
        and name.endswith(("RMSNorm", "LayerNorm"))
        and isinstance(weight, torch.Tensor)
        and weight.dim() == 1
    )


def _sizes(module: nn.Module) -> tuple[int, int] | None:
    if is_transposed_linear(module):
        return int(module.weight.shape[1]), int(module.weight.shape[0])
    if is_custom_norm(module):
        return int(module.weight.shape[0]), int(module.weight.shape[0])
    if isinstance(module, _CONV):
        return module.out_channels, module.in_channels
    if isinstance(module, nn.Linear):
        return module.out_features, module.in_features
    if isinstance(module, _BATCHNORM | _INSTANCENORM):
        return module.num_features, module.num_features
    if isinstance(module, nn.LayerNorm | nn.RMSNorm):
        size = int(module.normalized_shape[-1])
        return size, size
    if isinstance(module, nn.GroupNorm):
        return module.num_channels, module.num_channels
    if isinstance(module, nn.PReLU):
        return module.num_parameters, module.num_parameters
    if isinstance(module, nn.Embedding):
        return module.embedding_dim, module.num_embeddings
    if isinstance(module, nn.MultiheadAttention):
        return module.embed_dim, module.embed_dim
    return None


def is_intra_coupled(module: nn.Module) -> bool:
    """Modules whose output channel i is computed from input channel i only."""
    if isinstance(module, _CONV):
        return module.groups == module.in_channels == module.out_channels and module.groups > 1
    return is_custom_norm(module) or isinstance(
        module,
        _BATCHNORM
        | _INSTANCENORM
        | nn.LayerNorm
        | nn.RMSNorm
        | nn.GroupNorm
        | nn.PReLU
        | nn.MultiheadAttention,
    )


def _select(tensor: torch.Tensor | None, dim: int, keep: Sequence[int]) -> torch.Tensor | None:
    if tensor is None:
        return None
    index = torch.as_tensor(list(keep), dtype=torch.long, device=tensor.device)
    return torch.index_select(tensor.detach(), dim, index).contiguous()


def _set_param(module: nn.Module, name: str, value: torch.Tensor | None) -> None:
    old = getattr(module, name)
    if value is None or old is None:
        return
    if isinstance(old, nn.Parameter):
        setattr(module, name, nn.Parameter(value, requires_grad=old.requires_grad))
    else:
        setattr(module, name, value)


def slice_module(
    module: nn.Module, path: str, keep_out: Sequence[int] | None, keep_in: Sequence[int] | None
) -> None:
    """Keep output channels ``keep_out`` and input channels ``keep_in`` of ``module``."""
    if is_intra_coupled(module):
        if keep_out is not None and keep_in is not None and list(keep_out) != list(keep_in):
            raise PrunekitError(
                f"{path}: {type(module).__name__} couples input and output "
                "channels, but the edit keeps different ones"
            )
        keep_out = keep_in = keep_out if keep_out is not None else keep_in
    if isinstance(module, _CONV):
        _slice_conv(module, path, keep_out, keep_in)
    elif isinstance(module, nn.Linear):
        if keep_out is not None:
            _set_param(module, "weight", _select(module.weight, 0, keep_out))
            _set_param(module, "bias", _select(module.bias, 0, keep_out))
            module.out_features = len(keep_out)
        if keep_in is not None:
            _set_param(module, "weight", _select(module.weight, 1, keep_in))
            module.in_features = len(keep_in)
    elif is_transposed_linear(module):
        if keep_out is not None:
            _set_param(module, "weight", _select(module.weight, 1, keep_out))
            _set_param(module, "bias", _select(module.bias, 0, keep_out))
            module.nf = len(keep_out)
        if keep_in is not None:
            _set_param(module, "weight", _select(module.weight, 0, keep_in))
            if hasattr(module, "nx"):
                module.nx = len(keep_in)
    elif isinstance(module, nn.Embedding):
        if keep_in is not None:
            raise PrunekitError(f"{path}: removing vocabulary entries is not supported")
        _set_param(module, "weight", _select(module.weight, 1, keep_out or []))
        module.embedding_dim = len(keep_out or [])
    elif isinstance(module, nn.MultiheadAttention):
        _slice_mha(module, path, keep_out or [])
    else:
        _slice_norm_like(module, path, keep_out or [])


def _slice_norm_like(module: nn.Module, path: str, keep: Sequence[int]) -> None:
    for name in ("weight", "bias"):
        if getattr(module, name, None) is not None:
            _set_param(module, name, _select(getattr(module, name), 0, keep))
    for name in ("running_mean", "running_var"):
        if getattr(module, name, None) is not None:
            setattr(module, name, _select(getattr(module, name), 0, keep))
    if isinstance(module, _BATCHNORM | _INSTANCENORM):
        module.num_features = len(keep)
    elif isinstance(module, nn.LayerNorm | nn.RMSNorm):
        module.normalized_shape = (*tuple(module.normalized_shape)[:-1], len(keep))
    elif isinstance(module, nn.GroupNorm):
        if len(keep) % module.num_groups:
            raise PrunekitError(
                f"{path}: GroupNorm with {module.num_groups} groups cannot keep "
                f"{len(keep)} channels; the kept count must divide evenly"
            )
        module.num_channels = len(keep)
    elif isinstance(module, nn.PReLU):
        if module.num_parameters > 1:
            module.num_parameters = len(keep)
    elif is_custom_norm(module):
        for name in ("normalized_shape", "hidden_size", "dim"):
            if isinstance(getattr(module, name, None), int):
                setattr(module, name, len(keep))
    else:
        raise PrunekitError(f"{path}: channel pruning does not support {type(module).__name__}")


def _slice_conv(
    conv: nn.modules.conv._ConvNd,
    path: str,
    keep_out: Sequence[int] | None,
    keep_in: Sequence[int] | None,
) -> None:
    groups = conv.groups
    keep_out = list(range(conv.out_channels)) if keep_out is None else list(keep_out)
    keep_in = list(range(conv.in_channels)) if keep_in is None else list(keep_in)
    in_pg, out_pg = conv.in_channels // groups, conv.out_channels // groups
    ins: list[list[int]] = [[] for _ in range(groups)]  # one pass each: depthwise convs have
    outs: list[list[int]] = [[] for _ in range(groups)]  # as many groups as channels
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
                f"{path}: {type(conv).__name__} with groups={groups}: the kept channels are not "
                "balanced across its groups (each group must keep the same input positions and "
                "the same number of outputs)"
            )
    local_in = ins[alive[0]] if alive else []
    if conv.transposed:  # weight: (in, out / groups, *kernel)
        local_out = [c % out_pg for c in outs[alive[0]]] if alive else []
        weight = _select(_select(conv.weight, 0, keep_in), 1, local_out)
    else:  # weight: (out, in / groups, *kernel)
        weight = _select(_select(conv.weight, 0, keep_out), 1, local_in)
    _set_param(conv, "weight", weight)
    _set_param(conv, "bias", _select(conv.bias, 0, keep_out))
    conv.out_channels, conv.in_channels, conv.groups = len(keep_out), len(keep_in), len(alive)


def _slice_mha(mha: nn.MultiheadAttention, path: str, keep: Sequence[int]) -> None:
    if not mha._qkv_same_embed_dim or mha.in_proj_weight is None:
        raise PrunekitError(f"{path}: MultiheadAttention with separate kdim/vdim is not supported")
    if len(keep) % mha.num_heads:
        raise PrunekitError(
            f"{path}: MultiheadAttention with {mha.num_heads} heads cannot keep "
            f"{len(keep)} embedding channels (must be a multiple of the heads)"
        )
    e = mha.embed_dim
    keep3 = [i + k * e for k in range(3) for i in keep]
    _set_param(mha, "in_proj_weight", _select(_select(mha.in_proj_weight, 0, keep3), 1, keep))
    _set_param(mha, "in_proj_bias", _select(mha.in_proj_bias, 0, keep3))
    for name in ("bias_k", "bias_v"):
        _set_param(mha, name, _select(getattr(mha, name), 2, keep))
    out = mha.out_proj
    _set_param(out, "weight", _select(_select(out.weight, 0, keep), 1, keep))
    _set_param(out, "bias", _select(out.bias, 0, keep))
    out.in_features = out.out_features = len(keep)
    mha.embed_dim = mha.kdim = mha.vdim = len(keep)
    mha.head_dim = len(keep) // mha.num_heads


def slice_parameter(model: nn.Module, path: str, axis: int, keep: Sequence[int]) -> None:
    """Keep entries ``keep`` of axis ``axis`` of the parameter at ``path``."""
    owner_path, _, name = path.rpartition(".")
    owner = get_module(model, owner_path)
    old = getattr(owner, name, None)
    if not isinstance(old, torch.Tensor):
        raise PrunekitError(f"parameter {path!r} does not exist in {type(model).__name__}")
    _set_param(owner, name, _select(old, axis, keep))
