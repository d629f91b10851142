"""A plain MLP for tabular and flattened-pixel data (feature selection recipes)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn

from prunekit.errors import ConfigError
from prunekit.models.spec import ModelSpec, attach_spec


def mlp(inputs: int, num_classes: int, hidden: Sequence[int] = (128, 64)) -> nn.Module:
    """``pk.zoo.model("mlp", inputs=64, num_classes=10)``: Linear-ReLU layers, then a Linear."""
    sizes = [inputs, *hidden]
    if min(*sizes, num_classes) < 1:
        raise ConfigError(
            f"mlp(inputs={inputs}, num_classes={num_classes}, hidden={list(hidden)}): "
            "every size must be positive"
        )
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(sizes[-1], num_classes))
    kwargs = {"inputs": inputs, "num_classes": num_classes, "hidden": list(hidden)}
    return attach_spec(model, ModelSpec("zoo", "mlp", kwargs))
