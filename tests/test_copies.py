"""Pruning's trial copies cost no memory per parameter: kept fractions are counted on a
meta-device skeleton (the counts must equal those of a real pruned copy; a model the meta
device cannot run is counted on real copies), and the equivalence check zeroes readers by
hooks on the model itself (the outputs must equal zeroing the weights of a copy, and the model
is left as it was)."""

from __future__ import annotations

import copy

import pytest
import torch
import torchvision
from torch import nn

import prunekit as pk
from prunekit.core.analysis.graph import ChannelGraph
from prunekit.core.budget.fractions import KeptFractions
from prunekit.core.budget.metrics import count_macs, count_params
from prunekit.core.checks.screen import trial_removal
from prunekit.core.checks.verify import readers_zeroed, zero_readers
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.selection import group_edits
from prunekit.core.model.inputs import call_model, primary_output
from tests import hf_tiny


def _cases() -> dict[str, tuple[nn.Module, object]]:
    torch.manual_seed(0)
    vit = torchvision.models.VisionTransformer(32, 8, 2, 2, 32, 64, num_classes=5)
    nn.init.normal_(vit.heads.head.weight)  # torchvision starts the head at zero
    return {
        "resnet18": (torchvision.models.resnet18(), torch.randn(2, 3, 32, 32)),
        "vit": (vit, torch.randn(2, 3, 32, 32)),
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


@pytest.mark.parametrize("name", ["resnet18", "vit", "llama"])
def test_zeroing_readers_by_hooks_equals_zeroing_weights_and_restores_the_model(
    name: str,
) -> None:
    # the ViT's attention (nn.MultiheadAttention) has no hook axis: zeroed in place, restored
    model, inputs = _cases()[name]
    model.eval()
    before = copy.deepcopy(model.state_dict())
    groups = ChannelGraph(model, inputs).groups()
    removal = trial_removal(groups, seed=2)
    zeroed = copy.deepcopy(model)
    for position, roots in removal.items():
        zero_readers(zeroed, groups[position], roots)
    with torch.no_grad():
        expected = call_model(zeroed, inputs)
        with readers_zeroed(model, [(groups[p], r) for p, r in removal.items()]):
            got = call_model(model, inputs)
        again = call_model(model, inputs)
    first = primary_output(expected)
    assert torch.allclose(primary_output(got), first, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(primary_output(again), first)  # the zeroing is gone
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("name", ["resnet18", "vit", "llama"])
def test_channel_pruning_in_place_copies_no_parameter(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the dependency analysis, the target search and both equivalence checks: no weight copied
    # (the ViT's hidden-size groups normalise: its final check runs on a sharing copy)
    model, inputs = _cases()[name]
    copied: list[tuple[int, ...]] = []
    original = nn.Parameter.__deepcopy__

    def counting(self: nn.Parameter, memo: dict) -> nn.Parameter:
        if self.device.type != "meta":
            copied.append(tuple(self.shape))
        return original(self, memo)

    monkeypatch.setattr(nn.Parameter, "__deepcopy__", counting)
    target = pk.Target(params=0.6, macs=0.7)
    result = pk.prune(model, pk.ChannelConfig(target=target), example_inputs=inputs, inplace=True)
    assert result.model is model and count_params(model) < 0.61 * result.before.params
    assert copied == []
