"""The decoder-only families the streaming path supports, and why the others are not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prunekit.errors import InputError


@dataclass(frozen=True)
class Family:
    """Where a family keeps its tensors (names in the checkpoint) and how its projections are
    laid out. Every supported family has pre-norm decoder layers under ``layers``, rotary
    positions, and attention output ``o_proj`` / MLP output ``down_proj``."""

    model_type: str
    layers: str = "model.layers"
    embedding: str = "model.embed_tokens.weight"
    fused_qkv: bool = False  # Phi-3: one qkv_proj with rows [q heads, k heads, v heads]
    fused_gate_up: bool = False  # Phi-3: one gate_up_proj with rows [gate, up]
    # Gemma2 scales its (tied) embedding by sqrt(hidden_size): fewer hidden channels would
    # rescale every token; width pruning keeps the hidden size there
    scaled_embedding: bool = False


FAMILIES = {
    "llama": Family("llama"),
    "mistral": Family("mistral"),
    "qwen2": Family("qwen2"),
    "qwen3": Family("qwen3"),
    "gemma2": Family("gemma2", scaled_embedding=True),
    "phi3": Family("phi3", fused_qkv=True, fused_gate_up=True),
}

# Families users ask for, and what stops them today.
UNSUPPORTED = {
    "mixtral": "mixture of experts: width and scores are per expert, not per layer",
    "qwen2_moe": "mixture of experts: width and scores are per expert, not per layer",
    "qwen3_moe": "mixture of experts: width and scores are per expert, not per layer",
    "gemma3": "multimodal wrapper with a vision tower; the text layers are not at model.layers",
    "gpt2": "fused Conv1D attention and learned positions: use pk.prune on the loaded model",
    "opt": "post-norm options and learned positions: use pk.prune on the loaded model",
    "falcon": "interleaved fused query-key-value rows: use pk.prune on the loaded model",
}


def check_family(config: dict[str, Any], directory: Path) -> Family:
    model_type = str(config.get("model_type"))
    family = FAMILIES.get(model_type)
    if family is not None:
        return family
    why = UNSUPPORTED.get(model_type, "not a decoder-only family prunekit's streaming path knows")
    raise InputError(
        f"{directory}: model_type {model_type!r} is not supported by prunekit llm ({why}); "
        f"supported: {', '.join(sorted(FAMILIES))} (pre-norm decoder layers with rotary "
        "positions, whose layers and widths the config expresses); fix: for a model that fits "
        "in memory, load it and use pk.prune"
    )
