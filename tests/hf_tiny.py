"""Tiny random Hugging Face models (no download): one per family the core supports."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prunekit.models.hf import hf_spec
from prunekit.models.spec import attach_spec

CONFIGS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # name: (model class, config class, config fields)
    "bert": (
        "BertModel",
        "BertConfig",
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "vocab_size": 100,
            "max_position_embeddings": 64,
        },
    ),
    "gpt2": (
        "GPT2LMHeadModel",
        "GPT2Config",
        {
            "n_embd": 64,
            "n_layer": 2,
            "n_head": 4,
            "vocab_size": 100,
            "n_positions": 64,
            "bos_token_id": 0,
            "eos_token_id": 0,
        },
    ),
    "llama": (
        "LlamaForCausalLM",
        "LlamaConfig",
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 100,
        },
    ),
    "qwen2": (
        "Qwen2ForCausalLM",
        "Qwen2Config",
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 100,
            "bos_token_id": 0,
            "eos_token_id": 0,
        },
    ),
    "vit": (
        "ViTForImageClassification",
        "ViTConfig",
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
            "num_labels": 5,
        },
    ),
}


def tiny(name: str, seed: int = 0) -> nn.Module:
    import transformers

    model_cls, config_cls, fields = CONFIGS[name]
    torch.manual_seed(seed)
    model = getattr(transformers, model_cls)(getattr(transformers, config_cls)(**fields))
    spec = hf_spec(model)
    assert spec is not None
    return attach_spec(model.eval(), spec)


def inputs(name: str, batch: int = 2) -> Any:
    generator = torch.Generator().manual_seed(1)
    if name == "vit":
        return torch.randn(batch, 3, 32, 32, generator=generator)
    return {"input_ids": torch.randint(0, 100, (batch, 12), generator=generator)}
