from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

import prunekit as pk
from prunekit.core.edit.layers import removal_edits
from prunekit.core.edit.plan import Plan, ReplaceEdit

X = torch.randn(2, 3, 64, 64)


def test_residual_blocks_become_identity_and_replay() -> None:
    model = pk.zoo.model("resnet18", num_classes=5).eval()
    plan = Plan(removal_edits(model, ["layer1.1", "layer3.1"], X))
    pruned = plan.apply(torchvision.models.resnet18(num_classes=5))
    pruned.load_state_dict(model.state_dict(), strict=False)
    assert isinstance(pruned.layer1[1], torch.nn.Identity)
    assert isinstance(pruned.layer3[1], torch.nn.Identity)
    assert pruned.eval()(X).shape == (2, 5)
    replayed = Plan.loads(plan.dumps()).apply(torchvision.models.resnet18(num_classes=5))
    assert {k: v.shape for k, v in replayed.state_dict().items()} == {
        k: v.shape for k, v in pruned.state_dict().items()
    }
    assert pk.measure(pruned, X).params < pk.measure(model, X).params


def test_save_and_load_after_block_removal(tmp_path: Path) -> None:
    model = pk.zoo.model("resnet18", num_classes=5).eval()
    plan = Plan(removal_edits(model, ["layer2.1"], X))
    plan.apply(model)
    pk.save(model, tmp_path, plan=plan)
    loaded = pk.load(tmp_path)
    assert torch.equal(loaded(X), model(X))


def test_shape_changing_block_is_refused() -> None:
    model = pk.zoo.model("resnet18")
    with pytest.raises(pk.PrunekitError, match=r"'layer2.0' changes the shape"):
        removal_edits(model, ["layer2.0"], X)
    with pytest.raises(pk.PrunekitError, match="does not exist"):
        removal_edits(model, ["layer9.0"], X)
    with pytest.raises(pk.PrunekitError, match="listed twice"):
        removal_edits(model, ["layer1.1", "layer1.1"], X)


def test_uncalled_block_is_refused() -> None:
    class WithSpare(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    model = WithSpare()
    with pytest.raises(pk.PrunekitError, match="never called"):
        removal_edits(model, ["unused"], torch.randn(1, 4))


def test_a_module_is_replaced_by_stock_layers_and_replays(tmp_path: Path) -> None:
    model = pk.zoo.model("resnet18", num_classes=5).eval()
    conv = model.layer1[0].conv1
    basis = torch.nn.Conv2d(64, 16, 3, padding=1, bias=False)
    back = torch.nn.Conv2d(16, 64, 1)
    edit = ReplaceEdit.of("layer1.0.conv1", [basis, back])
    plan = Plan([edit])
    plan.apply(model)
    model.layer1[0].conv1[0].weight.data.copy_(basis.weight)
    assert [type(m) for m in model.layer1[0].conv1] == [torch.nn.Conv2d] * 2
    assert model.layer1[0].conv1[1].bias is not None and conv.bias is None
    replayed = Plan.loads(plan.dumps())
    assert replayed.edits == plan.edits
    pk.save(model, tmp_path, plan=plan)
    with torch.no_grad():
        assert torch.equal(pk.load(tmp_path)(X), model(X))


def test_replacements_must_be_stock_layers() -> None:
    with pytest.raises(pk.PlanError, match="stock layers"):
        ReplaceEdit.of("fc", [torch.nn.GELU()])
    bad = {"op": "replace", "path": "fc", "layers": [{"type": "Linear", "args": {"x": 1}}]}
    with pytest.raises(pk.PlanError, match="unknown Linear arguments"):
        Plan.from_json({"format": "prunekit.plan", "version": 1, "edits": [bad]})
