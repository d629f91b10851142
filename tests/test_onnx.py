"""ONNX export of pruned models, checked with onnxruntime, on a representative subset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import prunekit as pk

SUBSET = {
    "resnet18": (64, ()),
    "mobilenet_v3_small": (64, ()),
    "vit_b_32": (224, pytest.mark.slow),
    "timm:convnext_atto": (64, pytest.mark.slow),
    "densenet121": (64, pytest.mark.slow),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=m) for n, (_, m) in SUBSET.items()])
def test_pruned_model_exports_and_matches_onnxruntime(name: str, tmp_path: Path) -> None:
    side = SUBSET[name][0]
    x = torch.randn(1, 3, side, side)
    result = pk.prune(
        pk.zoo.model(name), pk.ChannelConfig(target=pk.Target(params=0.6)), example_inputs=x
    )
    error = pk.export_onnx(result.model, x, tmp_path / "model.onnx")
    assert error < 1e-3
    assert (tmp_path / "model.onnx").stat().st_size > 0


def test_export_failure_is_a_clear_error(tmp_path: Path) -> None:
    class Unexportable(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> set[int]:
            return {1, 2}  # not a tensor: nothing to export

    with pytest.raises(pk.PrunekitError, match="ONNX export of Unexportable failed"):
        pk.export_onnx(Unexportable(), torch.randn(1, 3), tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()
