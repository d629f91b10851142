from __future__ import annotations

import pytest
import torch
from torch import nn

import prunekit as pk
from prunekit.core.analysis import tp_patches
from prunekit.core.analysis.graph import ChannelGraph
from tests.nets import ConcatNet, ResidualNet


def _by_root(graph: ChannelGraph) -> dict[str, object]:
    return {g.root: g for g in graph.groups()}


def test_concat_offsets_map_back_to_root_channels() -> None:
    groups = _by_root(ChannelGraph(ConcatNet(), torch.randn(1, 3, 8, 8)))
    b = groups["b"]
    reader = next(m for m in b.members if m.path == "c" and m.dim == "in")  # type: ignore[attr-defined]
    assert reader.indices == tuple(range(8, 20))  # after a's 8 channels
    removals = dict((m.path, loc) for m, loc in b.member_removals([0, 11]))  # type: ignore[attr-defined]
    assert removals["b"] == [0, 11] and removals["c"] == [8, 19] and removals["bn"] == [8, 19]


def test_output_layer_is_never_a_pruning_target() -> None:
    for net in (ConcatNet(), ResidualNet()):
        groups = ChannelGraph(net, torch.randn(1, 3, 8, 8)).groups()
        outs = {m.path for g in groups for m in g.members if m.dim == "out"}
        assert "head" not in outs


def test_residual_and_grouped_couplings() -> None:
    groups = ChannelGraph(ResidualNet(), torch.randn(1, 3, 8, 8)).groups()
    residual = next(g for g in groups if any(m.path == "stem" for m in g.members))
    assert {m.path for m in residual.members} >= {"stem", "bn0", "conv1", "conv2", "bn2"}
    grouped = next(g for g in groups if g.root == "conv1")
    assert grouped.channel_groups == 4 and grouped.step == 4


def test_untraceable_model_is_a_clear_error() -> None:
    class Untraceable(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(self.fc(x).detach().numpy())  # leaves autograd

    with pytest.raises(pk.PrunekitError, match="Untraceable"):
        ChannelGraph(Untraceable(), torch.randn(1, 4))


def test_inputs_that_do_not_fit_are_named() -> None:
    with pytest.raises(pk.InputError, match=r"\(1, 5\) float32"):
        ChannelGraph(nn.Linear(4, 2), torch.randn(1, 5))


def test_a_conv_read_by_a_linear_through_flatten_is_a_group() -> None:
    """LeNet/VGG-style heads: the reverse flatten mapping (Linear inputs back to channels)
    shrinks the index set and must not trip the bound on runaway mappings (VGG-11's last conv
    used to be skipped)."""
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(512, 2))
    graph = ChannelGraph(model, torch.zeros(2, 1, 8, 8))
    groups = graph.groups()
    assert graph.skipped == []
    assert [(m.path, m.dim, len(m.indices)) for m in groups[0].members] == [
        ("0", "out", 8),
        ("3", "in", 512),
    ]
    vgg = pk.zoo.model("vgg11")
    graph = ChannelGraph(vgg, torch.zeros(1, 3, 32, 32))
    assert len(graph.groups()) == 10 and graph.skipped == []


def test_an_expansion_past_its_work_budget_is_left_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """The analysis counts the index entries each root's expansion creates (not seconds, so every
    machine finds the same groups); a root past the budget is skipped with the reason."""
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3)
    )
    x = torch.randn(1, 3, 12, 12)
    assert len(ChannelGraph(net, x).groups()) == 2
    monkeypatch.setattr(tp_patches, "BUDGET_PER_LIMIT", 1e-4)  # a budget of a few entries
    graph = ChannelGraph(net, x)
    assert graph.groups() == []
    assert {why for _, why in graph.skipped} == {
        "dependency analysis failed: _AnalysisTooLargeError"
    }


def test_a_fused_qkv_expansion_is_left_whole_not_searched_for_minutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fused QKV layout no head finder knows (Phi-3's, with its finder removed): torch-pruning's
    expansion ran over 600 s on a one-layer model."""
    from prunekit.core.analysis import heads
    from prunekit.models.heads import hf_phi3
    from tests.hf_tiny import family

    monkeypatch.setattr(heads, "HEAD_FINDERS", [f for f in heads.HEAD_FINDERS if f is not hf_phi3])
    model = family("phi3")
    graph = ChannelGraph(model, {"input_ids": torch.randint(0, 100, (2, 12))})
    groups = graph.groups()
    assert groups  # the rest of the model is analysed
    reasons = dict(graph.skipped)
    assert reasons["model.layers.0.self_attn.qkv_proj"] == (
        "dependency analysis failed: _AnalysisTooLargeError"
    )


def test_phi3_heads_form_one_group_across_layers() -> None:
    """Phi-3 reads the query width from its model-wide config: every layer keeps the same number
    of heads, so unit i of every layer is one root channel."""
    from tests.hf_tiny import family

    model = family("phi3")
    graph = ChannelGraph(model, {"input_ids": torch.randint(0, 100, (2, 12))})
    groups = [g for g in graph.groups() if g.root.endswith("self_attn")]
    assert graph.skipped == []
    assert len(groups) == 1 and groups[0].size == 2  # key/value heads, each with 2 query heads
    paths = {m.path for m in groups[0].members}
    assert paths == {
        f"model.layers.{i}.self_attn.{p}" for i in range(4) for p in ("qkv_proj", "o_proj")
    }


def test_phi3_heads_are_left_whole_when_one_layer_is_ignored() -> None:
    """Pruning the other layers' heads would break the one count they all read."""
    from tests.hf_tiny import family

    model = family("phi3")
    ignore = [model.model.layers[0].self_attn.o_proj]
    graph = ChannelGraph(model, {"input_ids": torch.randint(0, 100, (2, 12))}, ignore=ignore)
    assert not [g for g in graph.groups() if g.root.endswith("self_attn")]
