"""The zoo-wide invariant on timm models of different families (see tests/zoo_check.py).

Groups that fail the trial removal are left whole by prunekit; for a few models that is
expected and documented in docs/core.md ("Groups left whole"). The test fails on any other.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import prunekit as pk
from tests.zoo_check import assert_sound, check_model

MODELS = {
    # name: (input side, fnmatch patterns of group roots expected to be left whole)
    "resnet10t": (64, ()),
    "mobilenetv3_small_100": (64, ()),
    "mobilenetv4_conv_small": (64, ()),
    "lcnet_050": (64, ()),
    "efficientnet_b0": (64, ()),
    "mobilenetv2_050": (64, ()),
    "tinynet_e": (64, ()),
    "semnasnet_050": (64, ()),
    "regnetx_002": (64, ()),
    "regnety_002": (64, ()),
    "convnext_atto": (64, ()),
    "densenet121": (64, ()),
    "dla34": (64, ()),
    "seresnext26d_32x4d": (64, ()),
    "selecsls42b": (64, ()),
    "resnest14d": (64, ("layer*.conv2.fc2",)),  # split attention: radix softmax reshape
    "cspresnet50": (64, ("stages.*.conv_transition_b.conv",)),  # split then concat
    "repvgg_a0": (64, ()),
    "tf_efficientnet_lite0": (64, ()),
    "hrnet_w18_small": (64, ()),
    "efficientformer_l1": (224, ()),
    "mixer_s16_224": (224, ()),
    "vit_tiny_patch16_224": (224, ("blocks.*.attn.qkv",)),  # heads: adapter not yet written
    "deit_tiny_patch16_224": (224, ("blocks.*.attn.qkv",)),
}
FAST = {"resnet10t", "mobilenetv3_small_100", "lcnet_050", "mobilenetv4_conv_small"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in MODELS]
)
def test_timm_model_keeps_the_invariant(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    side, left_whole = MODELS[name]
    report = check_model(
        pk.zoo.model(f"timm:{name}"), torch.randn(2, 3, side, side), tmp_path / "run"
    )
    assert_sound(report, left_whole)


def test_at_least_twenty_timm_families() -> None:
    assert len(MODELS) >= 20
