"""Patches and bounds around torch-pruning's dependency analysis, used by ``core/analysis/graph.py``
(with graph.py, the only files that import torch_pruning): index mappings that fail become
opaque, mappings are computed once per graph, each root's expansion has a work budget, group
membership is answered by a set, and pruners describe layers torch-pruning does not know."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from torch import nn

from prunekit.core.edit.slicer_base import is_custom_norm, is_transposed_linear
from prunekit.core.edit.surgery import dim_size, is_intra_coupled
from prunekit.errors import PrunekitError

_MAPPERS = (
    "update_concat_index_mapping",
    "update_split_index_mapping",
    "update_reshape_index_mapping",
    "update_unbind_index_mapping",
    "update_expand_index_mapping",
    "update_slice_index_mapping",
)


@contextmanager
def guarded_index_mapping(opaque: set[Any]) -> Iterator[None]:
    """torch-pruning raises on some reshapes (ShuffleNet's channel shuffle, Swin's windows).
    Such an op becomes opaque: every group through it is left whole instead of failing."""
    from torch_pruning.dependency import index_mapping

    originals = {name: getattr(index_mapping, name) for name in _MAPPERS}

    def guarded(original: Any) -> Any:
        def run(graph: Any, node: Any) -> None:
            if node in opaque:
                return
            try:
                original(graph, node)
            except Exception:
                opaque.add(node)

        return run

    for name, original in originals.items():
        setattr(index_mapping, name, guarded(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(index_mapping, name, original)


@contextmanager
def index_mapping_frozen() -> Iterator[None]:
    from torch_pruning.dependency import graph as tp_graph

    module = tp_graph.index_mapping
    tp_graph.index_mapping = _FrozenMapping(module)
    try:
        yield
    finally:
        tp_graph.index_mapping = module


class _MappingTooLargeError(PrunekitError):
    """An index mapping grew past any real layer width (torch-pruning loops on some graphs)."""


class _AnalysisTooLargeError(PrunekitError):
    """One root's group expansion did more work than any real coupling needs (MaxViT's window
    reshapes, fused QKV layouts): the group is left whole instead of being searched for minutes."""


def mapping_limit(model: nn.Module) -> int:
    """No real coupling maps a channel set to more indices than the widest layer has."""
    widest = 0
    for module in model.modules():
        for dim in ("out", "in"):
            with suppress(PrunekitError):
                widest = max(widest, dim_size(module, dim))
    return 4 * max(widest, 4096)


# What one root's expansion may do, measured on the zoo (benchmarks/core.py analysis): the
# largest real group creates 7.7 M index entries (timm resnest14d, layer4's split attention) and
# visits one layer 97 times; MaxViT's window reshapes visit a layer 885 times (17.7 M entries,
# 11 s) before failing, Phi-3's and Falcon's fused QKV loop for over 600 s. Past either bound
# the root is left whole, in about a second for those.
BUDGET_PER_LIMIT = 2048  # index entries, in units of the mapping limit (33 M at the minimum)
MAX_VISITS = 256  # items added for one (layer, dimension) of one group


class WorkBudget:
    """Counts what the current root's expansion has done (deterministic, unlike a clock: the
    same model gives the same groups on every machine)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.spent = limit, 0
        self.visits: Counter[tuple[Any, Any]] = Counter()

    def reset(self) -> None:
        self.spent = 0
        self.visits.clear()

    def spend(self, entries: int) -> None:
        self.spent += entries
        if self.spent > self.limit:
            raise _AnalysisTooLargeError(
                f"the expansion created over {self.limit:,} index entries for one group"
            )

    def visit(self, target: Any, handler: Any) -> None:
        self.visits[(target, handler)] += 1
        if self.visits[(target, handler)] > MAX_VISITS:
            raise _AnalysisTooLargeError(
                f"the expansion reached one layer over {MAX_VISITS} times for one group"
            )


@contextmanager
def bounded_analysis(limit: int, budget: WorkBudget) -> Iterator[None]:
    """Every index mapping spends ``budget``; a flatten mapping that would grow the index set
    past ``limit`` entries fails at once."""
    from torch_pruning.dependency import index_mapping

    classes = [
        value
        for name, value in vars(index_mapping).items()
        if isinstance(value, type) and name.endswith("IndexMapping")
    ]
    originals = {cls: cls.__call__ for cls in classes}

    def bounded(original: Any) -> Any:
        def call(self: Any, idxs: Any) -> Any:
            # Only the forward flatten mapping (channel -> flattened features) grows the index
            # set; the reverse one (a Linear's inputs back to channels) shrinks it.
            grow = (
                1 if getattr(self, "reverse", False) else max(1, int(getattr(self, "_stride", 1)))
            )
            if len(idxs) * grow > limit:
                raise _MappingTooLargeError(f"index mapping would grow past {limit} entries")
            mapped = original(self, idxs)
            budget.spend(len(mapped))
            return mapped

        return call

    for cls, original in originals.items():
        cls.__call__ = bounded(original)
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.__call__ = original


@contextmanager
def indexed_groups(budget: WorkBudget) -> Iterator[None]:
    """torch-pruning asks "is (target, handler, indices) in the group already?" by scanning every
    item of the group and comparing index lists: quadratic in the group's size (MaxViT: 134 s of
    its 226 s listing). A set of the items' keys answers the same question in constant time.
    Every item added spends ``budget`` and counts as a visit of its layer, so no expansion can
    loop for long."""
    from torch_pruning.dependency.group import Group

    add_dep, has_pruning_op = Group.add_dep, Group.has_pruning_op

    def key(dep: Any, idxs: Any) -> tuple[Any, Any, tuple[Any, ...]]:
        return dep.target, dep.handler, tuple(idxs)

    def indexed_add(self: Any, dep: Any, idxs: Any) -> None:
        budget.spend(max(1, len(idxs)))
        budget.visit(dep.target, dep.handler)
        add_dep(self, dep, idxs)
        self.__dict__.setdefault("_prunekit_keys", set()).add(key(dep, idxs))

    def indexed_has(self: Any, dep: Any, idxs: Any) -> bool:
        return key(dep, idxs) in self.__dict__.get("_prunekit_keys", ())

    Group.add_dep, Group.has_pruning_op = indexed_add, indexed_has
    try:
        yield
    finally:
        Group.add_dep, Group.has_pruning_op = add_dep, has_pruning_op


class _FrozenMapping:
    """Stands in for torch-pruning's index_mapping module with a no-op update."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def update_index_mapping(self, graph: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def custom_pruners(model: nn.Module) -> dict[Any, Any]:
    """torch-pruning pruners for layers it does not know: HF's Conv1D and family norms. They
    only describe channel counts and coupling, read from the layer table (core/edit/slicers.py);
    prunekit's slicers do the editing."""
    import torch_pruning as tp

    def unused(self: Any, layer: nn.Module, idxs: Any) -> nn.Module:
        raise NotImplementedError("prunekit slices layers itself (core/edit/slicers.py)")

    class _FromTable(tp.pruner.BasePruningFunc):
        def prune_out_channels(self, layer: nn.Module, idxs: Any) -> nn.Module:
            return unused(self, layer, idxs)

        def prune_in_channels(self, layer: nn.Module, idxs: Any) -> nn.Module:
            return unused(self, layer, idxs)

        def get_out_channels(self, layer: nn.Module) -> int:
            return dim_size(layer, "out")

        def get_in_channels(self, layer: nn.Module) -> int:
            return dim_size(layer, "in")

    class _Coupled(_FromTable):
        prune_out_channels = unused
        prune_in_channels = unused  # the same function: torch-pruning couples in and out

    pruners: dict[Any, Any] = {}
    for module in model.modules():
        if is_transposed_linear(module) or is_custom_norm(module):
            coupled = is_intra_coupled(module)
            pruners.setdefault(type(module), _Coupled() if coupled else _FromTable())
    return pruners
