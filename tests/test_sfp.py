"""SFP and CR-SFP: masks, export equal to the masked network (resume after a kill and DDP:
tests/test_resume.py, for every method that trains)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from prunekit.core.analysis.graph import ChannelGraph
from prunekit.core.edit.surgery import get_module
from prunekit.methods.sfp.masks import _MaskOutput
from prunekit.train import accuracy


def _data() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 1, 24, generator=g)
    y = (x[:, 0, :12].mean(1) > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g)


@pytest.mark.parametrize("cls", [pk.SFPConfig, pk.CRSFPConfig])
def test_export_is_smaller_and_as_accurate_as_the_masked_network(cls: type) -> None:
    torch.manual_seed(0)
    model = pk.zoo.model("small_resnet", dims=1, num_classes=2, blocks=2, width=16)
    data = _data()
    result = pk.prune(
        model,
        cls(rate=0.5, epochs=3, lr=0.02),
        example_inputs=torch.randn(2, 1, 24),
        train_data=data,
        val_data=data,
    )
    assert result.after.params < 0.5 * result.before.params
    assert accuracy(result.model, data) == result.details["masked_accuracy"]
    history = result.details["history"]
    assert len(history) == 3 and {"r_accuracy", "p_accuracy", "gap"} <= set(history[0])
    assert not any("r_head" in name for name, _ in result.model.named_modules())
    assert all(type(m) is not nn.Module for m in result.model.modules())


@pytest.mark.parametrize("target", [pk.Target(params=0.6), pk.Target(macs=0.5)])
@pytest.mark.parametrize("cls", [pk.SFPConfig, pk.CRSFPConfig])
def test_a_params_or_macs_target_sets_the_rate(cls: type, target: pk.Target) -> None:
    torch.manual_seed(0)
    model = pk.zoo.model("small_resnet", dims=1, num_classes=2, blocks=2, width=16)
    x = torch.randn(2, 1, 24)
    result = pk.prune(
        model, cls(target=target, epochs=1, lr=0.02), example_inputs=x, train_data=_data()
    )
    ((name, wanted),) = target.given().items()
    kept = getattr(result.after, name) / getattr(result.before, name)
    assert wanted * 0.8 < kept <= wanted  # the smallest uniform rate meeting it, at 16 channels
    assert 0 < result.details["rate"] < 1


def test_masked_filters_get_no_gradient_through_the_mask() -> None:
    x = torch.ones(2, 3, requires_grad=True)
    mask = torch.tensor([1.0, 0.0, 1.0])
    _MaskOutput.apply(x, mask).sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 1.0]] * 2


def test_bad_sfp_configs() -> None:
    with pytest.raises(pk.ConfigError, match="rate"):
        pk.SFPConfig(rate=1.0)
    with pytest.raises(pk.ConfigError, match="criterion"):
        pk.CRSFPConfig(criterion="magic")
    with pytest.raises(pk.ConfigError, match="rate= or target=, not both"):
        pk.SFPConfig(rate=0.5, target=pk.Target(params=0.5))
    with pytest.raises(pk.ConfigError, match="not layers or input features"):
        pk.SFPConfig(target=pk.Target(layers=0.5))
    assert pk.SFPConfig().rate == 0.3
    with pytest.raises(pk.ConfigError, match="no prunable"):
        pk.prune(
            nn.Linear(4, 2),
            pk.SFPConfig(),
            example_inputs=torch.randn(1, 4),
            train_data=[(torch.randn(2, 4), torch.tensor([0, 1]))],
        )


def test_the_r_nn_is_evaluated_with_its_own_batch_norm_statistics() -> None:
    """CR-SFP's training passes (masked and unmasked) leave mixed running statistics; the R-NN
    is evaluated on a copy whose statistics were recomputed with every channel live."""
    from prunekit.methods.sfp.recalibrate import recalibrated

    torch.manual_seed(0)
    x = 3.0 + 2.0 * torch.randn(256, 4, 6)
    model = nn.Sequential(nn.Conv1d(4, 4, 1, bias=False), nn.BatchNorm1d(4))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(4).unsqueeze(-1))
    model[1].running_mean.fill_(-5.0)  # what mixed masked/unmasked passes might leave
    data = DataLoader(TensorDataset(x, torch.zeros(256)), batch_size=32)
    fresh = recalibrated(model, None, data)
    assert torch.allclose(fresh[1].running_mean, x.mean((0, 2)), atol=1e-4)
    assert torch.allclose(fresh[1].running_var, x.var((0, 2)), rtol=0.05)
    assert torch.equal(model[1].running_mean, torch.full((4,), -5.0))  # the original untouched


def test_filters_behind_a_batch_norm_are_scored_with_the_norm_folded_in() -> None:
    """Behind a batch norm a filter's scale is arbitrary (a regrown filter can reach many times
    its peers' norm): the folded score is the same for any scale, the raw one is not."""
    from prunekit.methods.sfp.masks import scores
    from prunekit.methods.sfp.norms import folded_scale, following_norms

    torch.manual_seed(0)
    model = pk.zoo.model("small_resnet", dims=1, blocks=1, width=8).eval()
    example = torch.randn(2, 1, 24)
    norms = following_norms(model, example)
    assert norms == {
        "stem.0": "stem.1",
        "blocks.0.conv1": "blocks.0.bn1",
        "blocks.0.conv2": "blocks.0.bn2",
    }
    group = next(
        g
        for g in ChannelGraph(model, example).groups()
        if {m.path for m in g.members} >= {"blocks.0.conv1", "blocks.0.bn1"}
    )
    bn = model.blocks[0].bn1
    bn.running_var.uniform_(0.5, 2.0)

    def both(m: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        folds = {p: folded_scale(get_module(m, n)) for p, n in norms.items()}
        return scores(m, group, "l2"), scores(m, group, "l2", folds)

    raw, folded = both(model)
    with torch.no_grad():  # channel 0 x 100 in the conv, x 100^2 in the variance: same function
        model.blocks[0].conv1.weight[0] *= 100
        bn.running_var[0] *= 100**2
    raw_scaled, folded_scaled = both(model)
    assert raw_scaled[0] > 50 * raw[0]
    assert torch.allclose(folded_scaled, folded, rtol=1e-4)


def test_a_batch_norm_reading_a_modified_output_is_not_paired_with_its_producer() -> None:
    """Pre-activation residual: ``out = conv1(x); out += conv2(x); bn(out)``; the norm reads
    the sum, so neither conv's filters may be scaled by it."""
    from prunekit.methods.sfp.norms import following_norms

    class PreAct(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.conv2 = nn.Conv1d(4, 4, 1), nn.Conv1d(4, 4, 1)
            self.bn, self.conv3, self.bn3 = nn.BatchNorm1d(4), nn.Conv1d(4, 4, 1), nn.BatchNorm1d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.conv1(x)
            out += self.conv2(x)
            return self.bn3(self.conv3(self.bn(out)))

    assert following_norms(PreAct(), torch.randn(2, 4, 5)) == {"conv3": "bn3"}
