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


_DECODER = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
    "max_position_embeddings": 64,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "pad_token_id": 0,
}
_FALCON = {
    "hidden_size": 64,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "ffn_hidden_size": 128,
    "vocab_size": 100,
    "bos_token_id": 0,
    "eos_token_id": 0,
}
_WHISPER = {
    "d_model": 64,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 128,
    "decoder_ffn_dim": 128,
    "vocab_size": 100,
    "num_mel_bins": 16,
    "max_source_positions": 16,
    "max_target_positions": 32,
    "pad_token_id": 0,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "decoder_start_token_id": 0,
    "suppress_tokens": [],
    "begin_suppress_tokens": [],
}
# Every family the trust workflows cover: the zoo's five plus the list. name: (model
# class, config class, config fields); inputs follow from the config (models/hf_save.py).
FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    **CONFIGS,
    "llama_tied": ("LlamaForCausalLM", "LlamaConfig", {**_DECODER, "tie_word_embeddings": True}),
    "qwen3": ("Qwen3ForCausalLM", "Qwen3Config", {**_DECODER, "head_dim": 16}),
    "mistral": ("MistralForCausalLM", "MistralConfig", {**_DECODER, "head_dim": 16}),
    "gemma2": (
        "Gemma2ForCausalLM",
        "Gemma2Config",
        {**_DECODER, "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 8},
    ),
    "gemma3": (
        "Gemma3ForCausalLM",
        "Gemma3TextConfig",
        {**_DECODER, "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 8},
    ),
    "phi3": ("Phi3ForCausalLM", "Phi3Config", dict(_DECODER)),
    "falcon": ("FalconForCausalLM", "FalconConfig", dict(_FALCON)),  # multi-query (Falcon-7B)
    "falcon_grouped": (  # Falcon-40B's layout: each key/value head after its query heads
        "FalconForCausalLM",
        "FalconConfig",
        {**_FALCON, "new_decoder_architecture": True, "num_kv_heads": 2},
    ),
    "falcon_mha": ("FalconForCausalLM", "FalconConfig", {**_FALCON, "multi_query": False}),
    "opt": (
        "OPTForCausalLM",
        "OPTConfig",
        {
            "hidden_size": 64,
            "ffn_dim": 128,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "vocab_size": 100,
            "max_position_embeddings": 64,
            "word_embed_proj_dim": 64,
            "pad_token_id": 1,
            "bos_token_id": 0,
            "eos_token_id": 0,
        },
    ),
    "gpt_neox": (
        "GPTNeoXForCausalLM",
        "GPTNeoXConfig",
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "vocab_size": 100,
            "max_position_embeddings": 64,
            "bos_token_id": 0,
            "eos_token_id": 0,
        },
    ),
    "t5_encoder": (
        "T5EncoderModel",
        "T5Config",
        {
            "d_model": 64,
            "d_kv": 16,
            "d_ff": 128,
            "num_layers": 4,
            "num_heads": 4,
            "vocab_size": 100,
            "decoder_start_token_id": 0,
            "pad_token_id": 0,
            "eos_token_id": 1,
        },
    ),
    "clip_vision": (
        "CLIPVisionModel",
        "CLIPVisionConfig",
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
    ),
    "whisper": ("WhisperForConditionalGeneration", "WhisperConfig", dict(_WHISPER)),
    "mixtral": (
        "MixtralForCausalLM",
        "MixtralConfig",
        {**_DECODER, "head_dim": 16, "num_local_experts": 4, "num_experts_per_tok": 2},
    ),
}


def family(name: str, seed: int = 0) -> nn.Module:
    """A tiny random model of one family (FAMILIES), with its base spec attached."""
    import transformers

    model_cls, config_cls, fields = FAMILIES[name]
    torch.manual_seed(seed)
    model = getattr(transformers, model_cls)(getattr(transformers, config_cls)(**fields))
    spec = hf_spec(model)
    assert spec is not None
    return attach_spec(model.eval(), spec)
