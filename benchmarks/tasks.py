"""The models and harder task variants the classification benchmarks share."""

from __future__ import annotations

import torch
from torch import nn

import prunekit as pk

# Harder variants of tasks on which methods saturate (issue 10, item 5), stated in each result:
# mnist1d with fewer samples and more generator noise; digits with 30% of the images for
# training (539) and 60% for test.
HARD = {
    "mnist1d": {"num_samples": 1500, "iid_noise_scale": 0.05, "corr_noise_scale": 0.5},
    "digits": {"test_fraction": 0.6},
}


def options(dataset: str, hard: bool) -> dict[str, object]:
    """The zoo dataset options of the task (empty for the default variant)."""
    return dict(HARD[dataset]) if hard else {}


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
