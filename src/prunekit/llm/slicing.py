"""How each checkpoint tensor of a supported family follows an LLMPlan: its new name (layers
renumbered) and the rows and columns it keeps. A tensor the rules do not know stops the
prune: nothing is ever written half-pruned."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prunekit.errors import InputError
from prunekit.llm.families import Family
from prunekit.llm.plan import LLMPlan

Index = list[int] | None  # None keeps everything

HIDDEN_VECTORS = (
    "input_layernorm.weight",
    "post_attention_layernorm.weight",
    "pre_feedforward_layernorm.weight",
    "post_feedforward_layernorm.weight",
)
HEAD_NORMS = ("self_attn.q_norm.weight", "self_attn.k_norm.weight")
IGNORED = ("rotary_emb.inv_freq",)  # stored by old checkpoints, recomputed by transformers


@dataclass(frozen=True)
class Shapes:
    """The original model's head layout (from its config)."""

    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int


@dataclass(frozen=True)
class Slice:
    name: str
    rows: Index
    cols: Index

    def apply(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.rows is not None:
            tensor = tensor.index_select(0, torch.tensor(self.rows, dtype=torch.long))
        if self.cols is not None:
            tensor = tensor.index_select(1, torch.tensor(self.cols, dtype=torch.long))
        return tensor.contiguous()

    def shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        out = list(shape)
        if self.rows is not None:
            out[0] = len(self.rows)
        if self.cols is not None:
            out[1] = len(self.cols)
        return tuple(out)


def slice_of(name: str, plan: LLMPlan, family: Family, shapes: Shapes) -> Slice | None:
    """The slice of tensor ``name``; None when the tensor is dropped (a removed layer)."""
    hidden = list(plan.hidden) if plan.hidden is not None else None
    head = f"{family.layers}."
    if not name.startswith(head):
        if name in (family.embedding, "lm_head.weight"):
            return Slice(name, None, hidden)
        if name.rsplit(".", 1)[0].endswith("norm"):
            return Slice(name, hidden, None)
        raise _unknown(name)
    index_text, _, rest = name[len(head) :].partition(".")
    index = int(index_text)
    if index not in plan.layers or rest.endswith(IGNORED):
        return None
    new = f"{head}{plan.layers.index(index)}.{rest}"
    if rest in HIDDEN_VECTORS:
        return Slice(new, hidden, None)
    if rest in HEAD_NORMS:
        return Slice(new, None, None)
    q = _rows(plan.heads, index, shapes.head_dim)
    kv = _rows(plan.kv_heads, index, shapes.head_dim)
    neurons = list(plan.neurons[index]) if plan.neurons is not None else None
    module, _, kind = rest.rpartition(".")
    weight = kind == "weight"
    q_size, kv_size = shapes.heads * shapes.head_dim, shapes.kv_heads * shapes.head_dim
    rules: dict[str, tuple[Index, Index]] = {
        "self_attn.q_proj": (q, hidden),
        "self_attn.k_proj": (kv, hidden),
        "self_attn.v_proj": (kv, hidden),
        "self_attn.qkv_proj": (
            _concat((q, q_size), (kv, kv_size), (kv, kv_size)),
            hidden,
        ),
        "self_attn.o_proj": (hidden, q),
        "mlp.gate_proj": (neurons, hidden),
        "mlp.up_proj": (neurons, hidden),
        "mlp.gate_up_proj": (
            _concat((neurons, shapes.intermediate), (neurons, shapes.intermediate)),
            hidden,
        ),
        "mlp.down_proj": (hidden, neurons),
    }
    if module not in rules or kind not in ("weight", "bias"):
        raise _unknown(name)
    rows, cols = rules[module]
    return Slice(new, rows, cols if weight else None)


def _rows(kept: dict[int, tuple[int, ...]] | None, index: int, head_dim: int) -> Index:
    if kept is None:
        return None
    return [h * head_dim + j for h in kept[index] for j in range(head_dim)]


def _concat(*parts: tuple[Index, int]) -> Index:
    """Rows of a fused projection: each part's kept rows, offset by the parts before it."""
    if all(rows is None for rows, _ in parts):
        return None
    out: list[int] = []
    offset = 0
    for rows, size in parts:
        out += [offset + r for r in (rows if rows is not None else range(size))]
        offset += size
    return out


def _unknown(name: str) -> InputError:
    return InputError(
        f"checkpoint tensor {name!r} is not one prunekit llm knows how to prune; nothing was "
        "written; fix: report the model family to prunekit (it may carry an extra module)"
    )
