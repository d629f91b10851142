"""Where the attention heads are in timm and Hugging Face models (head finders).

Recognised by structure, not by class name, so families that copy these layouts (DeiT, Mistral,
...) are found too; ``core.analysis.heads`` checks each description against the shapes.
"""

from __future__ import annotations

from torch import nn

from prunekit.core.analysis.heads import HEAD_FINDERS, HeadSpec, Projection
from prunekit.core.edit.slicer_base import is_transposed_linear
from prunekit.core.edit.surgery import get_module

_HEAD_COUNTS = (
    ("num_heads", "heads"),
    ("num_attention_heads", "heads"),
    ("num_key_value_heads", "kv_heads"),
    ("num_kv_heads", "kv_heads"),  # Falcon
    ("num_key_value_groups", "groups"),
)


def _int(module: nn.Module, name: str) -> int | None:
    value = getattr(module, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _linears(module: nn.Module, *names: str) -> bool:
    return all(isinstance(getattr(module, n, None), nn.Linear) for n in names)


def _counted(module: nn.Module, extra: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    found = [(n, k) for n, k in _HEAD_COUNTS if _int(module, n) is not None]
    return tuple(found) + tuple((n, k) for n, k in extra if _int(module, n) is not None)


def _fused(
    path: str,
    head_dim: int,
    qkv: str,
    output: str,
    width: int,
    attributes: tuple[tuple[str, str], ...],
) -> HeadSpec:
    """Queries, keys and values as consecutive blocks of ``width`` rows of one layer."""
    parts = (Projection(qkv, 0), Projection(qkv, width), Projection(qkv, 2 * width))
    return HeadSpec(path, head_dim, *parts, output, attributes)


def timm_attention(model: nn.Module) -> list[HeadSpec]:
    """timm's Attention (ViT, DeiT, ...): fused qkv, proj, num_heads, head_dim, attn_dim."""
    specs = []
    for path, module in model.named_modules():
        head_dim = _int(module, "head_dim")
        if head_dim is None or not _linears(module, "qkv", "proj"):
            continue
        if not isinstance(getattr(module, "norm", nn.Identity()), nn.Identity):
            continue  # a norm over all heads' outputs: not head-separable here
        if getattr(module, "gate", None) is not None:
            continue
        prefix = f"{path}." if path else ""
        width = module.qkv.out_features // 3
        attributes = _counted(module, (("attn_dim", "width"),))
        specs.append(_fused(path, head_dim, f"{prefix}qkv", f"{prefix}proj", width, attributes))
    return specs


def hf_separate_projections(model: nn.Module) -> list[HeadSpec]:
    """HF LLaMA, Qwen2, Mistral, ViT: q_proj, k_proj, v_proj, o_proj and head_dim."""
    specs = []
    for path, module in model.named_modules():
        head_dim = _int(module, "head_dim")
        if head_dim is None or not _linears(module, "q_proj", "k_proj", "v_proj", "o_proj"):
            continue
        prefix = f"{path}." if path else ""
        specs.append(
            HeadSpec(
                path,
                head_dim,
                Projection(f"{prefix}q_proj"),
                Projection(f"{prefix}k_proj"),
                Projection(f"{prefix}v_proj"),
                f"{prefix}o_proj",
                _counted(module, ()),
            )
        )
    return specs


def hf_bert(model: nn.Module) -> list[HeadSpec]:
    """HF BERT-style self-attention: query, key, value; the output dense is a sibling's."""
    specs = []
    for path, module in model.named_modules():
        head_dim = _int(module, "attention_head_size")
        if head_dim is None or not _linears(module, "query", "key", "value") or not path:
            continue
        output = f"{path.rpartition('.')[0]}.output.dense"
        try:
            get_module(model, output)
        except Exception:
            continue
        specs.append(
            HeadSpec(
                path,
                head_dim,
                Projection(f"{path}.query"),
                Projection(f"{path}.key"),
                Projection(f"{path}.value"),
                output,
                _counted(module, (("all_head_size", "width"),)),
            )
        )
    return specs


def hf_gpt2(model: nn.Module) -> list[HeadSpec]:
    """HF GPT-2: fused c_attn and c_proj (transposed Conv1D layers), split by split_size."""
    specs = []
    for path, module in model.named_modules():
        head_dim = _int(module, "head_dim")
        attn, proj = getattr(module, "c_attn", None), getattr(module, "c_proj", None)
        if head_dim is None or attn is None or proj is None or not path:
            continue
        if not (is_transposed_linear(attn) and is_transposed_linear(proj)):
            continue
        if getattr(module, "is_cross_attention", False):
            continue
        width = int(attn.weight.shape[1]) // 3
        attributes = _counted(module, (("split_size", "width"),))
        specs.append(_fused(path, head_dim, f"{path}.c_attn", f"{path}.c_proj", width, attributes))
    return specs


def hf_phi3(model: nn.Module) -> list[HeadSpec]:
    """HF Phi-3: queries, keys and values in blocks of one qkv_proj. The query width is read
    from the model-wide config, so every layer keeps the same number of heads."""
    specs = []
    for path, module in model.named_modules():
        head_dim = _int(module, "head_dim")
        if head_dim is None or not _linears(module, "qkv_proj", "o_proj") or not path:
            continue
        if not hasattr(getattr(module, "config", None), "num_attention_heads"):
            continue
        q_width = module.o_proj.in_features
        kv_width = (module.qkv_proj.out_features - q_width) // 2
        qkv = f"{path}.qkv_proj"
        parts = (Projection(qkv, 0), Projection(qkv, q_width), Projection(qkv, q_width + kv_width))
        attributes = _counted(module, ())
        specs.append(HeadSpec(path, head_dim, *parts, f"{path}.o_proj", attributes, "blocks", True))
    return specs


def hf_query_key_value(model: nn.Module) -> list[HeadSpec]:
    """HF GPT-NeoX and Falcon: one query_key_value layer and a dense output. GPT-NeoX and
    Falcon (multi-head or grouped, "new decoder architecture") interleave each key/value
    head's queries, key and value; Falcon's multi-query layout has all queries, then the key
    and the value. Falcon with ALiBi (a slope per head position) is left whole."""
    specs = []
    for path, module in model.named_modules():
        neox, falcon = _int(module, "head_size"), hasattr(module, "new_decoder_architecture")
        head_dim = neox or (_int(module, "head_dim") if falcon else None)  # not BLOOM's layout
        if head_dim is None or not _linears(module, "query_key_value", "dense") or not path:
            continue
        if getattr(getattr(module, "config", None), "alibi", False):
            continue
        qkv, q_width = f"{path}.query_key_value", module.dense.in_features
        mqa = bool(getattr(module, "multi_query", False)) and not getattr(
            module, "new_decoder_architecture", False
        )
        parts = (Projection(qkv, 0), Projection(qkv, q_width), Projection(qkv, q_width + head_dim))
        layout = "blocks" if mqa else "grouped"
        specs.append(
            HeadSpec(path, head_dim, *parts, f"{path}.dense", _counted(module, ()), layout)
        )
    return specs


def register() -> None:
    finders = (
        timm_attention,
        hf_separate_projections,
        hf_bert,
        hf_gpt2,
        hf_phi3,
        hf_query_key_value,
    )
    for finder in finders:
        if finder not in HEAD_FINDERS:
            HEAD_FINDERS.append(finder)
