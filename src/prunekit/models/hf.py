"""Hugging Face transformers models: rebuild from a config, and keep the config true to the pruned
shapes (``save_pretrained`` is in models/hf_save.py)."""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import json
import os
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from prunekit.core.analysis.heads import counts, find_heads
from prunekit.core.edit.plan import AttrEdit
from prunekit.errors import PrunekitError
from prunekit.models.spec import ModelSpec

# (fnmatch pattern of the first layer of every MLP, config field), by family layout; a field
# the config does not have is skipped (OPT's fc1 is Whisper's encoder fc1's name too).
_MLP_WIDTH = (
    ("*.mlp.up_proj", "intermediate_size"),
    ("*.intermediate.dense", "intermediate_size"),
    ("*.mlp.c_fc", "n_inner"),
    ("*.mlp.fc1", "intermediate_size"),
    ("*.mlp.dense_h_to_4h", "ffn_hidden_size"),  # Falcon
    ("*.mlp.dense_h_to_4h", "intermediate_size"),  # GPT-NeoX
    ("*.DenseReluDense.wi", "d_ff"),  # T5
    ("*encoder.layers.*.fc1", "encoder_ffn_dim"),  # Whisper, BART
    ("*decoder.layers.*.fc1", "decoder_ffn_dim"),
    ("*decoder.layers.*.fc1", "ffn_dim"),  # OPT
)


def is_hf_model(model: nn.Module) -> bool:
    config = getattr(model, "config", None)
    return type(model).__module__.startswith("transformers.") and hasattr(config, "to_dict")


def hf_spec(model: nn.Module) -> ModelSpec | None:
    """The config of a transformers model as a base spec (architecture only, no weights)."""
    if not is_hf_model(model):
        return None
    config = json.loads(model.config.to_json_string(use_diff=False))
    kwargs = {"config": config, "module": type(model).__module__}
    return ModelSpec("hf_config", type(model).__name__, kwargs)


def build_hf(spec: ModelSpec) -> nn.Module:
    """A transformers model with random weights from a recorded config."""
    import transformers

    cls = getattr(transformers, spec.name, None)
    module = str(spec.kwargs.get("module") or "")
    if cls is None and module.startswith("transformers."):  # a part (WhisperEncoder)
        with contextlib.suppress(ImportError):
            cls = getattr(importlib.import_module(module), spec.name, None)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise PrunekitError(
            f"base.json names transformers class {spec.name!r} ({module or 'top level'}), which "
            f"transformers {transformers.__version__} does not have; fix: install the version "
            "it was saved with, or save and load with base=factory (a function building it)"
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
    for pattern, name in _MLP_WIDTH:
        widths = {
            m.weight.shape[0 if isinstance(m, nn.Linear) else 1]
            for p, m in model.named_modules()
            if fnmatch.fnmatchcase(p, pattern) and isinstance(getattr(m, "weight", None), Tensor)
        }
        if len(widths) == 1 and hasattr(config, name):
            wanted[name] = int(widths.pop())
    if hidden is not None and getattr(config, "word_embed_proj_dim", None) == config.hidden_size:
        wanted["word_embed_proj_dim"] = hidden  # OPT: the embedding width, equal to hidden here
    return [
        AttrEdit("", f"config.{name}", value)
        for name, value in wanted.items()
        if getattr(config, name, None) != value and _settable(config, name)
    ]


def _settable(config: Any, name: str) -> bool:
    """A field, not a value the config derives (Falcon's head_dim is hidden_size / heads): a
    derived value that disagrees makes save_pretrained refuse, with the reason."""
    attribute = getattr(type(config), name, None)
    return not (isinstance(attribute, property) and attribute.fset is None)


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


def save_pretrained(model: nn.Module, directory: str | os.PathLike[str], **options: Any) -> Path:
    """``pk.save_pretrained``: see ``prunekit.models.hf_save.save_pretrained`` (kept here, where
    earlier releases documented it)."""
    from prunekit.models.hf_save import save_pretrained as checked

    return checked(model, directory, **options)
