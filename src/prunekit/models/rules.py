"""Attribute rules: plain attributes that must follow the shapes after channel pruning."""

from __future__ import annotations

from torch import nn

from prunekit.core.analysis.heads import attribute_edits
from prunekit.core.edit.plan import ATTRIBUTE_RULES, AttrEdit
from prunekit.models import heads
from prunekit.models.hf import config_edits


def torchvision_vit(model: nn.Module) -> list[AttrEdit]:
    """torchvision's VisionTransformer reshapes patches with ``self.hidden_dim``."""
    edits = []
    for path, module in model.named_modules():
        if type(module).__name__ != "VisionTransformer" or not hasattr(module, "conv_proj"):
            continue
        width = module.conv_proj.out_channels
        if isinstance(module.hidden_dim, int) and module.hidden_dim != width:
            edits.append(AttrEdit(path, "hidden_dim", width))
    return edits


def register() -> None:
    heads.register()
    for rule in (torchvision_vit, attribute_edits, config_edits):
        if rule not in ATTRIBUTE_RULES:
            ATTRIBUTE_RULES.append(rule)
