"""What a slicer is (``Slicer``: one layer type's channel operations) and the tensor helpers
every slicer uses; the table of slicers is ``core/edit/slicers.py``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

Keep = Sequence[int] | None


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


def select(tensor: torch.Tensor | None, dim: int, keep: Sequence[int]) -> torch.Tensor | None:
    """The entries ``keep`` of axis ``dim``, as a new contiguous tensor (``None`` stays)."""
    if tensor is None:
        return None
    index = torch.as_tensor(list(keep), dtype=torch.long, device=tensor.device)
    return torch.index_select(tensor.detach(), dim, index).contiguous()


def set_param(module: nn.Module, name: str, value: torch.Tensor | None) -> None:
    """Replace ``module.<name>`` by ``value``, a Parameter again if it was one."""
    old = getattr(module, name)
    if value is None or old is None:
        return
    if isinstance(old, nn.Parameter):
        setattr(module, name, nn.Parameter(value, requires_grad=old.requires_grad))
    else:
        setattr(module, name, value)


class Slicer:
    """One layer type. ``out``/``in`` are its output and input channels."""

    mixes = False  # its output channels are its own (conv, linear, embedding, attention)
    normalising = False  # it normalises over its channels (a kept count changes every output)
    scored = False  # its 1-D affine weight counts in magnitude and Taylor importance

    def matches(self, module: nn.Module) -> bool:
        raise NotImplementedError

    def sizes(self, module: nn.Module) -> tuple[int, int]:
        """(output channels, input channels)."""
        raise NotImplementedError

    def intra_coupled(self, module: nn.Module) -> bool:
        """Output channel i is computed from input channel i only."""
        return False

    def slice(self, module: nn.Module, path: str, keep_out: Keep, keep_in: Keep) -> None:
        raise NotImplementedError

    def per_channel(self, module: nn.Module, dim: str, values: torch.Tensor) -> torch.Tensor | None:
        """``values`` (shaped like ``module.weight``) summed over everything but channel ``dim``;
        ``None`` where the layer adds nothing to a channel's score."""
        if self.scored and values.dim() == 1:
            return values
        return None

    def zero_readers(self, module: nn.Module, local: Sequence[int]) -> None:
        """Zero the weights that read input channels ``local``."""
        raise NotImplementedError(f"zeroing readers of {type(module).__name__}")

    def input_axis(self, module: nn.Module) -> int | None:
        """The axis of the layer's input that holds its input channels, where zeroing those
        input channels computes exactly what ``zero_readers`` gives; None where it does not."""
        return None

    def zero_producers(self, module: nn.Module, local: Sequence[int]) -> None:
        """Zero the weights, biases and affines that produce output channels ``local``."""
        for name in ("weight", "bias"):
            tensor = getattr(module, name, None)
            if isinstance(tensor, torch.Tensor):
                tensor[local] = 0

    def step(self, module: nn.Module) -> int:
        """Channels are removed in multiples of this (attention heads, norm groups)."""
        return 1

    def channel_axis(self, module: nn.Module) -> int:
        """The axis of the layer's output that holds its output channels."""
        return 1
