"""The zoo-wide invariant in float16 and bfloat16 on a representative subset: a CNN with batch
norms, a depthwise mobile net, a vision transformer, a timm ConvNeXt and a Hugging Face LLM.
The equivalence check compares in float32 (core/checks/screen.py), so low precision raises no false
alarm and loosens no bound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import prunekit as pk
from tests.hf_tiny import inputs as hf_inputs
from tests.hf_tiny import tiny
from tests.zoo_check import assert_sound, check_model

DTYPES = [torch.float16, torch.bfloat16]


def _vision(name: str, side: int) -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    return pk.zoo.model(name), torch.randn(2, 3, side, side)


CASES = {
    "resnet18": lambda: _vision("resnet18", 64),
    "mobilenet_v3_small": lambda: _vision("mobilenet_v3_small", 64),
    "timm:vit_tiny_patch16_224": lambda: _vision("timm:vit_tiny_patch16_224", 224),
    "timm:convnext_atto": lambda: _vision("timm:convnext_atto", 64),
    "hf:llama": lambda: (tiny("llama"), hf_inputs("llama")),
}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(CASES))
def test_low_precision_models_keep_the_invariant(
    name: str, dtype: torch.dtype, tmp_path: Path
) -> None:
    model, x = CASES[name]()
    model = model.to(dtype)
    if isinstance(x, torch.Tensor):
        x = x.to(dtype)
    report = check_model(model, x, tmp_path / "run")
    assert_sound(report)
    result = pk.prune(model, pk.ChannelConfig(target=pk.Target(params=0.6)), example_inputs=x)
    assert {p.dtype for p in result.model.parameters()} == {dtype}
