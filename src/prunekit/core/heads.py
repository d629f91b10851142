"""Attention heads as channel groups: whole heads (or, with grouped-query attention, a key/value
head with its query heads) are the unit removed, so head_dim and attention's scale never change.

Model families describe their attention modules with finders (registered by
``prunekit.models.heads``); this file turns a description into a ChannelGroup and the attribute
edits (head counts) that the new shapes imply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from torch import nn

from prunekit.core.plan import AttrEdit
from prunekit.core.surgery import dim_size, get_module


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
    "kv_heads" or "width" (heads * head_dim); they are updated after heads are removed."""

    path: str
    head_dim: int
    query: Projection
    key: Projection
    value: Projection
    output: str
    attributes: tuple[tuple[str, str], ...] = ()


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
    fused = spec.query.path == spec.key.path
    q_rows = _rows(model, spec.query.path) // (3 if fused else 1)
    kv_rows = q_rows if fused else _rows(model, spec.key.path)
    return q_rows // spec.head_dim, kv_rows // spec.head_dim


def projection_paths(spec: HeadSpec) -> set[str]:
    return {spec.query.path, spec.key.path, spec.value.path}


def head_members(
    model: nn.Module, spec: HeadSpec
) -> Iterator[tuple[str, str, list[int], list[int]]]:
    """(path, dim, local indices, unit of each index) of every slice a head unit owns. A unit is
    one key/value head with the query heads that share it."""
    heads, kv_heads = counts(model, spec)
    per_unit = heads // kv_heads
    d = spec.head_dim
    rows_q = [
        (u, (u * per_unit + j) * d + i)
        for u in range(kv_heads)
        for j in range(per_unit)
        for i in range(d)
    ]
    rows_kv = [(u, u * d + i) for u in range(kv_heads) for i in range(d)]
    for projection, rows in ((spec.query, rows_q), (spec.key, rows_kv), (spec.value, rows_kv)):
        yield (
            projection.path,
            "out",
            [projection.offset + r for _, r in rows],
            [u for u, _ in rows],
        )
    yield spec.output, "in", [r for _, r in rows_q], [u for u, _ in rows_q]


def attribute_edits(model: nn.Module) -> list[AttrEdit]:
    """Head counts and widths that follow the projections' shapes (an attribute rule)."""
    edits = []
    for spec in find_heads(model):
        heads, kv_heads = counts(model, spec)
        value = {"heads": heads, "kv_heads": kv_heads, "width": heads * spec.head_dim}
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
        fused = spec.query.path == spec.key.path
        rows = _rows(model, spec.query.path)
        width = dim_size(get_module(model, spec.output), "in")
    except Exception:
        return False
    return (
        heads > 0
        and kv_heads > 0
        and heads % kv_heads == 0
        and rows == (3 if fused else 1) * heads * spec.head_dim
        and width == heads * spec.head_dim
    )
