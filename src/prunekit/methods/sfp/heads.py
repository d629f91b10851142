"""The two heads of CR-SFP on one backbone: the model's own output layer is the P-NN head, a
copy of it the R-NN head. One module, so one DDP forward computes both branches."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from prunekit.core.edit.surgery import get_module
from prunekit.methods.sfp.masks import GroupMasks


class TwoHeads(nn.Module):
    def __init__(self, model: nn.Module, head_path: str | None, masks: GroupMasks) -> None:
        super().__init__()
        self.model = model
        self.head_path = head_path
        self.r_head = copy.deepcopy(get_module(model, head_path)) if head_path else None
        self._masks = masks

    def with_model(self, model: nn.Module) -> TwoHeads:
        """The same R head and masks on another copy of the model (one whose batch norms were
        recalibrated, say)."""
        twin = TwoHeads(model, self.head_path, self._masks)
        twin.r_head = self.r_head
        return twin

    def pruned(self, x: torch.Tensor) -> torch.Tensor:
        """P-NN: masked channels, the model's own head."""
        with self._masks.applied(self.model):
            return self.model(x)

    def reconstructed(self, x: torch.Tensor) -> torch.Tensor:
        """R-NN: every filter live; the R head when there is one (CR-SFP)."""
        if self.r_head is None:
            return self.model(x)
        head = get_module(self.model, self.head_path or "")

        def swap(_m: nn.Module, args: tuple[Any, ...], _out: Any) -> torch.Tensor:
            return self.r_head(args[0])  # type: ignore[misc]

        handle = head.register_forward_hook(swap)
        try:
            return self.model(x)
        finally:
            handle.remove()

    def forward(self, x1: torch.Tensor, x2: torch.Tensor | None = None) -> Any:
        if x2 is None:
            return self.reconstructed(x1)
        return self.pruned(x1), self.reconstructed(x2)
