"""The input-mask layer that feature selection trains on image patches (the geometry of
patches and the stock-layer front of the pruned model are in ``core/edit/input_patches.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from prunekit.core.edit.input_patches import patch_grid, to_patches
from prunekit.core.model.ranks import sum_over_ranks


class PatchGate(nn.Module):
    """The input-mask layer of training: one trainable value per patch, shared by the channels,
    multiplied into the image before the first conv (installed as a forward pre-hook). It also
    keeps every pixel's mean and variance over the training samples it sees: a patch's
    magnitude score is |gate| times its pixels' standard deviation (what its gate would be on
    standardised inputs), so a patch that is always blank (digit corners) or always inked
    carries no weight just because its gate never moved."""

    def __init__(self, shape: Sequence[int], patch: int) -> None:
        super().__init__()
        rows, cols = patch_grid(shape, patch)
        self.patch = patch
        self.gate = nn.Parameter(torch.ones(rows, cols))
        self.register_buffer("pixel_sum", torch.zeros(tuple(shape), dtype=torch.float64))
        self.register_buffer("pixel_squares", torch.zeros(tuple(shape), dtype=torch.float64))
        self.samples = 0

    def statistics(self) -> dict[str, torch.Tensor]:
        """What a training checkpoint keeps beside the gate: the pixel sums and the count."""
        samples = torch.tensor([self.samples], dtype=torch.int64)
        return {
            "pixel_sum": self.pixel_sum,
            "pixel_squares": self.pixel_squares,
            "samples": samples,
        }

    @torch.no_grad()
    def load_statistics(self, saved: dict[str, torch.Tensor]) -> None:
        self.pixel_sum.copy_(saved["pixel_sum"])
        self.pixel_squares.copy_(saved["pixel_squares"])
        self.samples = int(saved["samples"][0])

    def full(self) -> torch.Tensor:
        return self.gate.repeat_interleave(self.patch, 0).repeat_interleave(self.patch, 1)

    def input_spread(self) -> torch.Tensor:
        """Per patch, the mean standard deviation of its pixels over the training samples seen,
        by every rank under torch.distributed (ones before any)."""
        seen = torch.cat(
            [
                self.pixel_sum.flatten(),
                self.pixel_squares.flatten(),
                self.pixel_sum.new_tensor([self.samples]),
            ]
        )
        sum_over_ranks([seen])  # every rank saw other samples
        samples = float(seen[-1])
        if not samples:
            return torch.ones(self.gate.numel())
        pixel_sum, pixel_squares = seen[:-1].view(2, *self.pixel_sum.shape)
        mean = pixel_sum / samples
        std = (pixel_squares / samples - mean**2).clamp_min(0).sqrt()
        return to_patches(std.float().unsqueeze(0), self.patch).mean(dim=(0, 1, 2))

    def attach(self, module: nn.Module) -> Any:
        def hook(m: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
            x = args[0]
            if m.training:
                with torch.no_grad():
                    seen = x.detach().to(self.pixel_sum.device, torch.float64)
                    self.pixel_sum += seen.sum(0)
                    self.pixel_squares += (seen**2).sum(0)
                    self.samples += x.shape[0]
            return (x * self.full().to(x.dtype), *args[1:])

        return module.register_forward_pre_hook(hook)
