"""The models the classification benchmarks share."""

from __future__ import annotations

import torch
from torch import nn

import prunekit as pk


def fresh_resnet(dataset: str, seed: int) -> nn.Module:
    """The 16-block SmallResNet for ``dataset`` (48 channels 1-D for mnist1d, 32 channels 2-D
    for digits), freshly initialised (Kaiming normal) for ``seed``."""
    dims, width = (1, 48) if dataset == "mnist1d" else (2, 32)
    model = pk.zoo.model("small_resnet", dims=dims, blocks=16, width=width)
    torch.manual_seed(seed)
    for p in model.parameters():
        if p.dim() > 1:
            torch.nn.init.kaiming_normal_(p)
    return model
