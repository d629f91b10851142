from __future__ import annotations

import pytest
import torch
from torch import nn

import prunekit as pk
from prunekit.core.edit.inputs_edit import input_feature_edits, input_readers
from prunekit.core.edit.plan import Plan


def test_removed_input_columns_equal_zeroed_columns() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(13, 32), nn.ReLU(), nn.Linear(32, 3)).eval()
    x = torch.randn(8, 13)
    keep = [0, 2, 5, 12]
    zeroed = torch.zeros(13)
    zeroed[keep] = 1
    with torch.no_grad():
        reference = model(x * zeroed)
    plan = Plan(input_feature_edits(model, keep, x))
    plan.apply(model)
    assert model[0].in_features == 4
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, keep]), reference, rtol=1e-6, atol=1e-6)
    assert Plan.loads(plan.dumps()).edits == plan.edits


def test_image_channels_of_every_first_conv() -> None:
    model = pk.zoo.model("resnet18", num_classes=3).eval()
    x = torch.randn(1, 3, 32, 32)
    assert input_readers(model, x) == ["conv1"]
    Plan(input_feature_edits(model, [0, 2], x)).apply(model)
    assert model.conv1.in_channels == 2 and model(x[:, [0, 2]]).shape == (1, 3)


def test_transformed_inputs_are_refused() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x * 2)

    with pytest.raises(pk.PrunekitError, match="reads the model input directly"):
        input_feature_edits(Scaled(), [0], torch.randn(1, 4))
    with pytest.raises(pk.PlanError, match="out of range"):
        input_feature_edits(nn.Linear(4, 2), [0, 9], torch.randn(1, 4))
