"""Image datasets: resizing, channel repetition and normalisation matching a backbone."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset as TorchDataset

from prunekit.errors import UnknownNameError

NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "efficientnet_lite0": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "inception": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}

Normalize = str | tuple[Sequence[float], Sequence[float]] | None


def mean_std(normalize: Normalize, channels: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Per-channel mean and std as (C, 1, 1) tensors, from a preset name or explicit values."""
    if normalize is None:
        return None
    if isinstance(normalize, str):
        if normalize not in NORMALIZATIONS:
            raise UnknownNameError("normalisation", normalize, list(NORMALIZATIONS))
        normalize = NORMALIZATIONS[normalize]
    mean, std = (torch.as_tensor(v, dtype=torch.float32).flatten() for v in normalize)
    mean, std = (v.expand(channels) if v.numel() == 1 else v[:channels] for v in (mean, std))
    return mean.reshape(-1, 1, 1).clone(), std.reshape(-1, 1, 1).clone()


class ImageDataset(TorchDataset[tuple[torch.Tensor, torch.Tensor]]):
    """Images in [0, 1] of shape (N, 1, H, W), resized and normalised item by item."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        size: int | None = None,
        channels: int = 1,
        normalize: Normalize = None,
    ) -> None:
        self.images, self.labels = images, labels
        self.size, self.channels = size, channels
        self.stats = mean_std(normalize, channels)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index]
        if self.size is not None and self.size != image.shape[-1]:
            image = F.interpolate(
                image[None], size=(self.size, self.size), mode="bilinear", align_corners=False
            )[0]
        if self.channels != image.shape[0]:
            image = image.expand(self.channels, -1, -1)
        if self.stats is not None:
            mean, std = self.stats
            image = (image - mean) / std
        return image.contiguous(), self.labels[index]

    @property
    def shape(self) -> tuple[int, ...]:
        side = self.size or int(self.images.shape[-1])
        return (self.channels, side, side)
