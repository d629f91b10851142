"""Input patches of ConvNets: k x k regions of an image as input features.

A reduced input holds only the kept patches, shaped (N, C, k*k, P): the pixels of each patch
(row-major), patch by patch in row-major order of the patch grid, which is the layout of
``nn.Unfold``/``nn.Fold`` with stride k. The pruned model reads it through a front of stock
layers placed before its first conv, ``Flatten(1, 2) -> Linear(P, L, bias=False) -> Fold``: the
linear layer scatters the P kept patches to their places among all L patches (scaled by the
trained input-mask value of each) and Fold puts the patches back into an image whose removed
patches are zero, which is exactly what the masked network saw during training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from prunekit.errors import ConfigError, InputError


def patch_grid(shape: Sequence[int], patch: int) -> tuple[int, int]:
    """Rows and columns of the patch grid of one (C, H, W) sample; refused when H or W is not a
    multiple of ``patch``."""
    if len(shape) != 3:
        raise ConfigError(
            f"input patches need image inputs of shape (N, C, H, W); one sample has shape "
            f"{tuple(shape)}: use patch=None to select input channels or columns instead"
        )
    _, height, width = shape
    if patch < 1 or height % patch or width % patch:
        raise ConfigError(
            f"the patch size is {patch}; the input is {height} x {width}, which a patch size "
            f"must divide: choose a divisor of both (e.g. 1, 2 or {_common_divisor(height, width)})"
        )
    return height // patch, width // patch


def _common_divisor(height: int, width: int) -> int:
    return max(d for d in range(1, min(height, width) + 1) if height % d == 0 and width % d == 0)


def to_patches(inputs: Any, patch: int) -> Any:
    """(N, C, H, W) tensor or numpy array -> (N, C, k*k, L) in Fold's layout."""
    n, c, h, w = inputs.shape
    blocks = inputs.reshape(n, c, h // patch, patch, w // patch, patch)
    order = (0, 1, 3, 5, 2, 4)
    moved = blocks.permute(order) if isinstance(blocks, torch.Tensor) else blocks.transpose(order)
    return moved.reshape(n, c, patch * patch, (h // patch) * (w // patch))


def patch_mask(shape: Sequence[int], patch: int, keep: Sequence[int]) -> torch.Tensor:
    """Boolean (C, H, W): True on the pixels of kept patches."""
    rows, cols = patch_grid(shape, patch)
    grid = torch.zeros(rows * cols, dtype=torch.bool)
    grid[list(keep)] = True
    pixels = grid.reshape(rows, cols).repeat_interleave(patch, 0).repeat_interleave(patch, 1)
    return pixels.expand(tuple(shape))


def patch_names(shape: Sequence[int], patch: int) -> tuple[str, ...]:
    """A name per patch: its pixel rows and columns, e.g. ``rows 0-1, cols 2-3``."""
    rows, cols = patch_grid(shape, patch)
    return tuple(
        f"rows {r * patch}-{r * patch + patch - 1}, cols {c * patch}-{c * patch + patch - 1}"
        for r in range(rows)
        for c in range(cols)
    )


@torch.no_grad()
def patch_front(
    shape: Sequence[int], patch: int, keep: Sequence[int], scales: torch.Tensor
) -> list[nn.Module]:
    """Stock layers that turn a reduced input (N, C, k*k, P) into the full image with removed
    patches zero and kept patch i multiplied by ``scales[keep[i]]``."""
    rows, cols = patch_grid(shape, patch)
    if not keep:
        raise InputError("an input-patch front needs at least one kept patch")
    scatter = nn.Linear(len(keep), rows * cols, bias=False)
    scatter.weight.zero_()
    flat = scales.reshape(-1)
    for column, index in enumerate(keep):
        scatter.weight[index, column] = flat[index]
    fold = nn.Fold((shape[1], shape[2]), (patch, patch), stride=(patch, patch))
    return [nn.Flatten(1, 2), scatter.to(flat.dtype), fold]
