"""The zoo-wide invariant on every torchvision classification model (see tests/zoo_check.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

import prunekit as pk
from tests.zoo_check import assert_sound, check_model, patterns_for

ALL = torchvision.models.list_models(module=torchvision.models)
FAST = {
    "resnet18",
    "mobilenet_v3_small",
    "squeezenet1_1",
    "shufflenet_v2_x0_5",
    "regnet_x_400mf",
    "efficientnet_b0",
    "mnasnet0_5",
    "googlenet",
}
# The largest variants of families whose smaller members run in every test run: the same code
# with more blocks or width, minutes each on 2 CPU cores. Checked before a release (`-m release`,
# run by .ci/run after the README's test command).
RELEASE = {
    "vit_h_14",
    "vit_l_16",
    "vit_l_32",
    "regnet_y_128gf",
    "regnet_y_32gf",
    "regnet_x_32gf",
    "regnet_y_16gf",
    "regnet_x_16gf",
    "efficientnet_b5",
    "efficientnet_b6",
    "efficientnet_b7",
    "efficientnet_v2_m",
    "efficientnet_v2_l",
    "convnext_large",
    "swin_b",
    "swin_s",
    "swin_v2_b",
    "swin_v2_s",
    "densenet161",
    "densenet169",
    "densenet201",
    "resnext101_64x4d",
    "wide_resnet101_2",
    "resnet152",
}
NATIVE_224 = ("vit_", "swin_", "maxvit_")
# Residual-stream groups that fail the trial removal and are left whole (docs/core.md):
# Swin's patch merging concatenates shifted slices of the stream, MaxViT's window partitions
# reshape it with fixed sizes. Their MLP hidden units and other groups are pruned.
LEFT_WHOLE = {
    "swin_t": ("features.*.mlp.3",),
    "swin_s": ("features.*.mlp.3",),
    "swin_b": ("features.*.mlp.3",),
    "maxvit_t": ("blocks.*.mlp_layer.3",),
}
# Groups the dependency analysis cannot list (docs/core.md), by model-name pattern: the
# channel shuffle's reshape, Swin's window reshapes and patch merging, MaxViT's qkv split.
SKIPPED = {
    "shufflenet_v2_*": ("stage*.branch1.*", "stage*.branch2.5"),
    "swin_[tsb]": ("features.*.mlp.3", "features.6.reduction"),
    "swin_v2_*": ("features.0.0", "features.*.mlp.3", "features.*.cpb_mlp.2", "*.reduction"),
    "maxvit_t": ("blocks.*.attn_layer.1.to_qkv",),
}


def _size(name: str) -> int:
    if name.startswith(NATIVE_224):
        return 224
    if name == "inception_v3":
        return 299  # its auxiliary head (training mode only) needs the native size
    return 96 if name == "googlenet" else 64


def _marks(name: str) -> tuple[pytest.MarkDecorator, ...]:
    if name in FAST:
        return ()
    return (pytest.mark.slow, pytest.mark.release) if name in RELEASE else (pytest.mark.slow,)


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in ALL])
def test_torchvision_model_keeps_the_invariant(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = pk.zoo.model(name)
    size = _size(name)
    report = check_model(model, torch.randn(2, 3, size, size), tmp_path / "run")
    assert_sound(report, LEFT_WHOLE.get(name, ()), patterns_for(name, SKIPPED))
