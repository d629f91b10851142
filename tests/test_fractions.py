"""Kept fractions are counted on a meta-device skeleton (no tensor data per evaluation); the
counts must equal those of a real pruned copy, and a model the meta device cannot run is
counted on real copies."""

from __future__ import annotations

import copy

import pytest
import torch
import torchvision
from torch import nn

from prunekit.core.fractions import KeptFractions
from prunekit.core.graph import ChannelGraph
from prunekit.core.metrics import count_macs, count_params
from prunekit.core.plan import Plan
from prunekit.core.screen import trial_removal
from prunekit.core.selection import group_edits
from tests import hf_tiny


def _cases() -> dict[str, tuple[nn.Module, object]]:
    return {
        "resnet18": (torchvision.models.resnet18(), torch.randn(2, 3, 32, 32)),
        "vit": (
            torchvision.models.VisionTransformer(32, 8, 2, 2, 32, 64, num_classes=5),
            torch.randn(2, 3, 32, 32),
        ),
        "llama": (hf_tiny.tiny("llama"), hf_tiny.inputs("llama")),
    }


@pytest.mark.parametrize("name", ["resnet18", "vit", "llama"])
def test_meta_counts_equal_a_real_pruned_copy(name: str) -> None:
    model, inputs = _cases()[name]
    model.eval()
    before = copy.deepcopy(model.state_dict())
    groups = ChannelGraph(model, inputs).groups()
    removal = trial_removal(groups, seed=1)
    kept = KeptFractions(model, inputs, ("params", "macs"))
    assert kept.skeleton is not None  # counted on the meta device, not on copies
    counted = kept.of_removal(groups, removal)
    real = copy.deepcopy(model)
    Plan(group_edits(model, groups, removal)).apply(real)
    assert counted["params"] == count_params(real) / count_params(model)
    assert counted["macs"] == count_macs(real, inputs) / count_macs(model, inputs)
    assert counted["params"] < 1 and counted["macs"] < 1
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


class ReadsValues(nn.Module):
    """A forward that branches on a value: the meta device cannot run it."""

    def __init__(self) -> None:
        super().__init__()
        self.first, self.second = nn.Linear(6, 8), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.first(x).relu()
        if hidden.sum() > -1:
            hidden = hidden * 2
        return self.second(hidden)


def test_a_model_the_meta_device_cannot_run_is_counted_on_real_copies() -> None:
    model, inputs = ReadsValues(), torch.randn(2, 6)
    groups = ChannelGraph(model, inputs).groups()
    kept = KeptFractions(model, inputs, ("params", "macs"))
    assert kept.skeleton is None
    counted = kept.of_removal(groups, {0: [0, 1, 2, 3]})
    assert counted["params"] == (6 * 4 + 4 + 4 * 3 + 3) / count_params(model)
    assert counted["macs"] == (2 * (6 * 4 + 4 * 3)) / count_macs(model, inputs)
