"""Hugging Face transformers models: rebuild from a config, keep the config true to the pruned
shapes, and save with ``save_pretrained`` where the config can express them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from prunekit.core.heads import counts, find_heads
from prunekit.core.plan import AttrEdit
from prunekit.errors import PrunekitError
from prunekit.models.spec import ModelSpec

# (module path suffix, config field) of the first layer of every MLP, by family layout.
_MLP_WIDTH = (
    (".mlp.up_proj", "intermediate_size"),
    (".intermediate.dense", "intermediate_size"),
    (".mlp.c_fc", "n_inner"),
    (".mlp.fc1", "intermediate_size"),
)


def is_hf_model(model: nn.Module) -> bool:
    config = getattr(model, "config", None)
    return type(model).__module__.startswith("transformers.") and hasattr(config, "to_dict")


def hf_spec(model: nn.Module) -> ModelSpec | None:
    """The config of a transformers model as a base spec (architecture only, no weights)."""
    if not is_hf_model(model):
        return None
    config = json.loads(model.config.to_json_string(use_diff=False))
    return ModelSpec("hf_config", type(model).__name__, {"config": config})


def build_hf(spec: ModelSpec) -> nn.Module:
    """A transformers model with random weights from a recorded config."""
    import transformers

    cls = getattr(transformers, spec.name, None)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise PrunekitError(
            f"base.json names transformers class {spec.name!r}, which this transformers "
            f"{transformers.__version__} does not have; fix: install the version it was saved with"
        )
    config = cls.config_class.from_dict(dict(spec.kwargs.get("config") or {}))
    return cls(config)


def config_edits(model: nn.Module) -> list[AttrEdit]:
    """Config fields that follow the pruned shapes, where every layer agrees (an attribute rule).
    A field whose layers differ (global ranking) is left as it was; ``save_pretrained`` then
    refuses with the reason."""
    if not is_hf_model(model):
        return []
    config = model.config
    wanted: dict[str, int] = {}
    hidden = _hidden_width(model)
    if hidden is not None:
        wanted["hidden_size"] = hidden
    specs = find_heads(model)
    heads = {counts(model, spec) for spec in specs}
    if len(heads) == 1:
        ((q, kv),) = heads
        wanted["num_attention_heads"] = q
        if hasattr(config, "num_key_value_heads"):
            wanted["num_key_value_heads"] = kv
        head_dims = {spec.head_dim for spec in specs}
        if len(head_dims) == 1 and _reads_head_dim(config):
            wanted["head_dim"] = head_dims.pop()
    for suffix, name in _MLP_WIDTH:
        widths = {
            m.weight.shape[0 if isinstance(m, nn.Linear) else 1]
            for p, m in model.named_modules()
            if p.endswith(suffix)
        }
        if len(widths) == 1 and hasattr(config, name):
            wanted[name] = int(widths.pop())
    return [
        AttrEdit("", f"config.{name}", value)
        for name, value in wanted.items()
        if getattr(config, name, None) != value
    ]


def _hidden_width(model: nn.Module) -> int | None:
    """The residual stream's width: the token embedding's, or a patch projection's (ViT)."""
    try:
        embeddings = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if isinstance(embeddings, nn.Embedding):
        return embeddings.embedding_dim
    projection = getattr(embeddings, "projection", None)
    if isinstance(projection, nn.modules.conv._ConvNd):
        return projection.out_channels
    return None


def _reads_head_dim(config: Any) -> bool:
    """Families whose modelling code takes head_dim from the config (LLaMA, Qwen2, ViT...)."""
    return getattr(config, "model_type", "") not in ("bert", "gpt2", "roberta", "distilbert")


def save_pretrained(model: nn.Module, directory: str | os.PathLike[str]) -> Path:
    """``model.save_pretrained(directory)`` after checking that the config rebuilds exactly these
    shapes; otherwise a clear error naming the first tensor it cannot express."""
    model = getattr(model, "model", model) if not isinstance(model, nn.Module) else model
    if not is_hf_model(model):
        raise PrunekitError(
            f"pk.save_pretrained needs a transformers model, got {type(model).__name__}; "
            "fix: use pk.save, which saves any model"
        )
    import torch

    try:
        with torch.device("meta"):
            rebuilt = type(model)(model.config)
    except Exception as exc:
        raise PrunekitError(
            f"the config of {type(model).__name__} cannot describe the pruned model ({exc}); "
            "fix: use pk.save / pk.load, which save any pruned model"
        ) from exc
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for name, tensor in rebuilt.state_dict().items():
        if name in ours and ours[name] != tuple(tensor.shape):
            raise PrunekitError(
                f"the config of {type(model).__name__} cannot express the pruned shapes: "
                f"{name} is {list(ours[name])} but the config builds {list(tensor.shape)} "
                "(layers pruned differently, or a family whose config derives the head size "
                "from hidden_size / num_attention_heads); fix: use pk.save / pk.load, or prune "
                "with ChannelConfig(scope='local') and heads/hidden kept expressible"
            )
    out = Path(directory)
    model.save_pretrained(out)
    return out
