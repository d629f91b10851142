"""Attention heads as channel groups: whole heads (or, with grouped-query attention, a key/value
head with its query heads) are the unit removed, so head_dim and attention's scale never change.
With one key/value head shared by every query head (multi-query attention), the unit is a query
head and the shared key and value stay.

Two row layouts of the query, key and value projections are known: "blocks" (all queries, then
all keys, then all values, in one fused layer or in three) and "grouped" (one fused layer where
each key/value head's query heads are followed by its key and its value: GPT-NeoX, Falcon).

Model families describe their attention modules with finders (registered by
``prunekit.models.heads``); this file turns a description into a ChannelGroup and the attribute
edits (head counts) that the new shapes imply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from torch import nn

from prunekit.core.edit.plan import AttrEdit
from prunekit.core.edit.surgery import dim_size, get_module


@dataclass(frozen=True)
class Projection:
    """The rows of the layer at ``path`` that compute one of queries, keys or values, starting
    at row ``offset`` (non-zero in a fused qkv layer)."""

    path: str
    offset: int = 0


@dataclass(frozen=True)
class HeadSpec:
    """One attention module: where its heads are computed and read, and its head size.

    ``attributes`` maps an attribute of the module at ``path`` to what it counts: "heads",
    "kv_heads", "groups" (query heads per key/value head) or "width" (heads * head_dim); they
    are updated after heads are removed. ``layout`` is "blocks" or "grouped" (see above).
    ``model_wide``: the module reads its head count from a setting every layer shares (Phi-3's
    config), so every such module must keep the same number of heads."""

    path: str
    head_dim: int
    query: Projection
    key: Projection
    value: Projection
    output: str
    attributes: tuple[tuple[str, str], ...] = ()
    layout: str = "blocks"
    model_wide: bool = False

    @property
    def fused(self) -> bool:
        return self.query.path == self.key.path


HeadFinder = Callable[[nn.Module], list[HeadSpec]]
HEAD_FINDERS: list[HeadFinder] = []


def find_heads(model: nn.Module) -> list[HeadSpec]:
    """Every attention module that a registered finder recognises, checked for consistency."""
    specs: dict[str, HeadSpec] = {}
    for finder in HEAD_FINDERS:
        for spec in finder(model):
            if spec.path not in specs and _consistent(model, spec):
                specs[spec.path] = spec
    return list(specs.values())


def counts(model: nn.Module, spec: HeadSpec) -> tuple[int, int]:
    """(query heads, key/value heads) of the attention module as it is now."""
    heads = dim_size(get_module(model, spec.output), "in") // spec.head_dim
    if spec.fused:
        kv_rows = (_rows(model, spec.query.path) - heads * spec.head_dim) // 2
    else:
        kv_rows = _rows(model, spec.key.path)
    return heads, kv_rows // spec.head_dim


def per_query_head(model: nn.Module, spec: HeadSpec) -> bool:
    """Multi-query attention: the unit removed is a query head; the one key/value head stays."""
    heads, kv_heads = counts(model, spec)
    return kv_heads == 1 and heads > 1


def units(model: nn.Module, spec: HeadSpec) -> int:
    """How many removable units (key/value heads with their queries, or query heads) it has."""
    heads, kv_heads = counts(model, spec)
    return heads if per_query_head(model, spec) else kv_heads


def projection_paths(spec: HeadSpec) -> set[str]:
    return {spec.query.path, spec.key.path, spec.value.path}


def head_members(
    model: nn.Module, spec: HeadSpec
) -> Iterator[tuple[str, str, list[int], list[int]]]:
    """(path, dim, local indices, unit of each index) of every slice a head unit owns."""
    heads, kv_heads = counts(model, spec)
    per_kv = heads // kv_heads
    d = spec.head_dim
    single = per_query_head(model, spec)
    # (unit, query head) of every query head, and the key/value head each unit owns
    query_heads = [(h if single else h // per_kv, h) for h in range(heads)]
    kv_of_unit = [] if single else [(u, u) for u in range(kv_heads)]
    if spec.layout == "grouped":
        stride = (per_kv + 2) * d
        q_row = {h: (h // per_kv) * stride + (h % per_kv) * d for h in range(heads)}
        k_row = {k: k * stride + per_kv * d for k in range(kv_heads)}
        v_row = {k: row + d for k, row in k_row.items()}
    else:
        q_row = {h: spec.query.offset + h * d for h in range(heads)}
        k_row = {k: spec.key.offset + k * d for k in range(kv_heads)}
        v_row = {k: spec.value.offset + k * d for k in range(kv_heads)}
    slices = [
        (spec.query.path, [(u, q_row[h]) for u, h in query_heads]),
        (spec.key.path, [(u, k_row[k]) for u, k in kv_of_unit]),
        (spec.value.path, [(u, v_row[k]) for u, k in kv_of_unit]),
    ]
    if spec.fused:  # one layer: its rows in one member
        slices = [(spec.query.path, [row for _, rows in slices for row in rows])]
    for path, starts in slices:
        if starts:
            rows = [(u, start + i) for u, start in starts for i in range(d)]
            yield path, "out", [r for _, r in rows], [u for u, _ in rows]
    outputs = [(u, h * d + i) for u, h in query_heads for i in range(d)]
    yield spec.output, "in", [r for _, r in outputs], [u for u, _ in outputs]


def attribute_edits(model: nn.Module) -> list[AttrEdit]:
    """Head counts and widths that follow the projections' shapes (an attribute rule)."""
    edits = []
    for spec in find_heads(model):
        heads, kv_heads = counts(model, spec)
        value = {
            "heads": heads,
            "kv_heads": kv_heads,
            "groups": heads // kv_heads,
            "width": heads * spec.head_dim,
        }
        module = get_module(model, spec.path)
        for name, kind in spec.attributes:
            if getattr(module, name, None) != value[kind]:
                edits.append(AttrEdit(spec.path, name, value[kind]))
    return edits


def _rows(model: nn.Module, path: str) -> int:
    return dim_size(get_module(model, path), "out")


def _consistent(model: nn.Module, spec: HeadSpec) -> bool:
    """A finder's description must match the shapes, or the module is left to the generic
    analysis (which leaves it whole)."""
    try:
        heads, kv_heads = counts(model, spec)
        rows = _rows(model, spec.query.path)
        width = dim_size(get_module(model, spec.output), "in")
    except Exception:
        return False
    return (
        heads > 0
        and kv_heads > 0
        and heads % kv_heads == 0
        and rows == (heads + 2 * kv_heads if spec.fused else heads) * spec.head_dim
        and width == heads * spec.head_dim
    )
