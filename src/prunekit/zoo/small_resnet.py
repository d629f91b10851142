"""A small ResNet of identical residual blocks (1-D signals or 2-D images), for layer-pruning
experiments on the offline datasets: every block keeps the shape, so any block can be removed."""

from __future__ import annotations

import torch
from torch import nn

from prunekit.models.spec import ModelSpec, attach_spec


class Block(nn.Module):
    def __init__(self, width: int, conv: type[nn.Module], norm: type[nn.Module]) -> None:
        super().__init__()
        self.conv1 = conv(width, width, 3, padding=1, bias=False)
        self.bn1 = norm(width)
        self.conv2 = conv(width, width, 3, padding=1, bias=False)
        self.bn2 = norm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(out)))


class SmallResNet(nn.Module):
    """stem conv -> ``blocks`` residual blocks of ``width`` channels -> global pool -> linear."""

    def __init__(
        self, dims: int, in_channels: int, num_classes: int, blocks: int, width: int
    ) -> None:
        super().__init__()
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        self.stem = nn.Sequential(conv(in_channels, width, 3, padding=1, bias=False), norm(width))
        self.blocks = nn.Sequential(*(Block(width, conv, norm) for _ in range(blocks)))
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(torch.relu(self.stem(x)))
        return self.head(x.flatten(2).mean(-1))


def small_resnet(
    dims: int = 1, in_channels: int = 1, num_classes: int = 10, blocks: int = 16, width: int = 48
) -> nn.Module:
    """``pk.zoo.model("small_resnet", dims=1)`` for mnist1d, ``dims=2`` for digits."""
    if dims not in (1, 2) or min(in_channels, num_classes, blocks, width) < 1:
        from prunekit.errors import ConfigError

        raise ConfigError(
            f"small_resnet(dims={dims}, in_channels={in_channels}, num_classes={num_classes}, "
            f"blocks={blocks}, width={width}): dims must be 1 or 2 and the rest positive"
        )
    model = SmallResNet(dims, in_channels, num_classes, blocks, width)
    kwargs = {
        "dims": dims,
        "in_channels": in_channels,
        "num_classes": num_classes,
        "blocks": blocks,
        "width": width,
    }
    return attach_spec(model, ModelSpec("zoo", "small_resnet", kwargs))
