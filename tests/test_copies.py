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


class KeywordAndDirectReaders(nn.Module):
    """Readers the hooks cannot see the usual way: one called with its input as a keyword, one
    whose weight is used without calling the layer."""

    def __init__(self) -> None:
        super().__init__()
        self.first, self.keyword = nn.Linear(6, 8), nn.Linear(8, 8)
        self.direct, self.head = nn.Linear(8, 8), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.keyword(input=self.first(x).relu()).relu()
        hidden = nn.functional.linear(hidden, self.direct.weight, self.direct.bias).relu()
        return self.head(hidden)


def test_keyword_and_direct_readers_are_zeroed_like_their_weights() -> None:
    from prunekit.core.checks.screen import zeroed_output

    torch.manual_seed(0)
    model, inputs = KeywordAndDirectReaders().eval(), torch.randn(4, 6)
    groups = ChannelGraph(model, inputs).groups()
    removal = {p: [0, 1, 2] for p in range(len(groups))}
    zeroed = copy.deepcopy(model)
    for position, roots in removal.items():
        zero_readers(zeroed, groups[position], roots)
    with torch.no_grad():
        expected = zeroed(inputs)
    got = zeroed_output(model, groups, removal, inputs)
    assert got is not None and torch.allclose(got, expected, rtol=1e-5, atol=1e-6)
    result = pk.prune(model, pk.ChannelConfig(target=pk.Target(params=0.7)), example_inputs=inputs)
    assert count_params(result.model) < count_params(model)


def test_the_trial_leaves_the_models_mode_and_hooks_as_they_were() -> None:
    from prunekit.core.checks.screen import screen
    from prunekit.core.model.hooks import hook_calls

    model, inputs = _cases()["resnet18"]
    model.train()
    screen(model, ChannelGraph(model, inputs).groups(), inputs)
    assert all(m.training for m in model.modules())
    with pytest.raises(pk.PrunekitError, match="nowhere"):
        hook_calls(model, ["layer1", "nowhere"], lambda *_: None)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_meta_inputs_keep_their_container() -> None:
    from collections import UserDict, namedtuple

    from prunekit.core.model.copies import on_meta

    pair = namedtuple("pair", "ids mask")
    moved = on_meta(pair(torch.ones(2), torch.zeros(2)))
    assert type(moved) is pair and moved.ids.device.type == "meta"
    encoding = on_meta(UserDict({"input_ids": torch.ones(2, 3, dtype=torch.long)}))
    assert encoding["input_ids"].device.type == "meta"


@pytest.mark.parametrize("name", ["resnet18", "vit", "llama"])
def test_tracing_the_meta_skeleton_finds_the_groups_of_the_real_model(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prunekit.core.analysis import graph as graph_module

    model, inputs = _cases()[name]
    on_meta = ChannelGraph(model, inputs).groups()

    def refuse(_model: nn.Module) -> nn.Module:
        raise RuntimeError("trace the real model")

    monkeypatch.setattr(graph_module, "meta_skeleton", refuse)
    real = ChannelGraph(model, inputs).groups()
    assert [(g.root, g.members, g.member_roots) for g in on_meta] == [
        (g.root, g.members, g.member_roots) for g in real
    ]
