"""Layer units: the repeated blocks a network is a sequence of (residual blocks, inverted
residuals, transformer layers), in execution order, and the edits that remove them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prunekit.core.edit.block_edits import LayersEdit
from prunekit.core.edit.edits import Keep, RemoveEdit
from prunekit.core.edit.layers import block_shapes, layer_lists
from prunekit.core.edit.surgery import get_module
from prunekit.core.model.hooks import hook_calls, run_hooked
from prunekit.core.model.inputs import ExampleInputs
from prunekit.errors import PrunekitError

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(frozen=True)
class Unit:
    """A block in the depth sequence. ``removable`` when its output has its input's shape, it is
    an entry of a layer list, and no other unit reads state it creates (``why`` says otherwise).
    ``takes_arguments``: it is called with more than its input (masks, caches, position
    biases: Hugging Face layers), so ``nn.Identity`` cannot stand in for it and its layer list
    keeps at least one unit."""

    path: str
    removable: bool
    why: str = ""
    takes_arguments: bool = False

    @property
    def parent(self) -> str:
        return self.path.rpartition(".")[0]


def find_units(
    model: nn.Module, example_inputs: ExampleInputs, paths: Sequence[str] = ()
) -> list[Unit]:
    """The outermost repeated blocks (a class that occurs at least twice and holds at least two
    layers with parameters), in the order they run; or the given ``paths``."""
    candidates = list(paths) or _repeated_blocks(model)
    order = _call_order(model, candidates, example_inputs)
    if not order:
        raise PrunekitError(
            f"found no layer units in {type(model).__name__} (no repeated block that runs); "
            f"candidate module lists: {layer_lists(model) or 'none'}; fix: pass units=[paths]"
        )
    shapes = block_shapes(model, order, example_inputs)
    calls = observe_calls(model, order, example_inputs)
    units = []
    for path in order:
        why = ""
        if not all(i == o for i, o in shapes[path]):
            why = "it changes the shape of what flows through it (a stride or width change)"
        elif not _in_list(model, path):
            why = "it is not an entry of a layer list"
        elif calls.readers[path]:
            why = (
                f"later units read state it creates ({', '.join(calls.readers[path][:3])}"
                f"{' ...' if len(calls.readers[path]) > 3 else ''}; T5's relative position bias)"
            )
        units.append(Unit(path, not why, why, path in calls.with_arguments))
    return units


def _repeated_blocks(model: nn.Module) -> list[str]:
    modules = dict(model.named_modules())
    counts = Counter(type(m) for m in modules.values())
    blocks = [
        path
        for path, module in modules.items()
        if path
        and type(module) not in _CONTAINERS  # subclasses (Conv2dNormActivation) are blocks
        and counts[type(module)] >= 2
        and sum(1 for m in module.modules() if _own_params(m)) >= 2
    ]
    chosen: list[str] = []
    for path in sorted(blocks, key=lambda p: p.count(".")):
        if not any(path.startswith(f"{outer}.") for outer in chosen):
            chosen.append(path)
    return chosen


def _own_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False))


def _in_list(model: nn.Module, path: str) -> bool:
    parent, _, _ = path.rpartition(".")
    return isinstance(get_module(model, parent), nn.ModuleList | nn.Sequential)


def _position(model: nn.Module, path: str) -> tuple[str, int]:
    parent, _, name = path.rpartition(".")
    names = [n for n, _ in get_module(model, parent).named_children()]
    return parent, names.index(name)


def _call_order(model: nn.Module, paths: Sequence[str], inputs: ExampleInputs) -> list[str]:
    order: list[str] = []
    handles = []
    for path in paths:

        def hook(*_: Any, path: str = path) -> None:
            if path not in order:
                order.append(path)

        handles.append(get_module(model, path).register_forward_pre_hook(hook))
    run_hooked(model, inputs, handles)
    return order


def removal_edits(model: nn.Module, units: Sequence[Unit], remove: Sequence[str]) -> list[Any]:
    """Edits deleting the chosen units from their layer lists (HF ``layer_idx`` and config
    follow). Lists are edited deepest first so that every path stays valid. A list of units
    that take arguments (HF layers) keeps at least one: an identity cannot stand in for them."""
    by_path = {u.path: u for u in units}
    lists: dict[str, list[int]] = {}
    for path in remove:
        unit = by_path.get(path)
        if unit is None or not unit.removable:
            why = unit.why if unit is not None else "it is not a layer unit of this model"
            raise PrunekitError(f"unit {path!r} cannot be removed: {why}")
        parent, index = _position(model, path)
        lists.setdefault(parent, []).append(index)
    edits: list[Any] = []
    for parent in sorted(lists, key=lambda p: -p.count(".")):
        size = len(get_module(model, parent))
        drop = set(lists[parent])
        if len(drop) >= size:
            names = [n for n, _ in get_module(model, parent).named_children()]
            if any(by_path[f"{parent}.{n}"].takes_arguments for n in names):
                raise PrunekitError(
                    f"removing all {size} layers of {parent!r} would leave nothing to run: its "
                    "layers take arguments (masks, caches), so no identity can stand in; keep "
                    "at least one (remove fewer units, or choose units in other lists)"
                )
            edits.extend(RemoveEdit(f"{parent}.{names[i]}") for i in sorted(drop))  # identities
            continue
        edits.append(LayersEdit(parent, Keep(size, tuple(i for i in range(size) if i not in drop))))
    return edits


def most_removable(units: Sequence[Unit]) -> int:
    """How many units can be removed together: every removable one, less one per layer list
    whose units all take arguments and are all removable (it keeps one)."""
    removable = [u.path for u in units if u.removable]
    return len(keeping_one_per_list(units, removable))


def keeping_one_per_list(units: Sequence[Unit], ranking: Sequence[str]) -> list[str]:
    """``ranking`` (removable unit paths, first removed first) without, for every layer list of
    units that take arguments and are all in the ranking, its last-ranked unit: that list then
    always keeps one. Prefixes shorter than that are unchanged."""
    by_path = {u.path: u for u in units}
    members: dict[str, list[str]] = {}
    for unit in units:
        members.setdefault(unit.parent, []).append(unit.path)
    ranked = set(ranking)
    spared = set()
    for paths in members.values():
        if all(p in ranked and by_path[p].takes_arguments for p in paths):
            spared.add(next(p for p in reversed(ranking) if p in paths))
    return [p for p in ranking if p not in spared]


@dataclass
class Calls:
    """What one forward pass shows about the units: those called with more than their input,
    and, per unit, the later units that read a tensor it created (not one it was given)."""

    with_arguments: set[str]
    readers: dict[str, list[str]]


def observe_calls(model: nn.Module, order: Sequence[str], inputs: ExampleInputs) -> Calls:
    made: dict[int, str] = {}  # id of a tensor a unit created and returned beside its output
    alive: list[Any] = []  # keeps those tensors (and their ids) alive during the pass
    with_arguments: set[str] = set()
    readers: dict[str, list[str]] = {p: [] for p in order}

    def record(path: str, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        extra = [*_tensors(args[1:]), *_tensors(list(kwargs.values()))]
        if len(args) > 1 or kwargs:
            with_arguments.add(path)
        for tensor in extra:
            owner = made.get(id(tensor))
            if owner is not None and owner != path and path not in readers[owner]:
                readers[owner].append(path)
        given = {id(t) for t in (*_tensors(args), *extra)}
        outputs = list(_tensors(output))
        for tensor in outputs[1:]:
            if id(tensor) not in given:
                made[id(tensor)] = path
                alive.append(tensor)

    run_hooked(model, inputs, hook_calls(model, order, record))
    return Calls(with_arguments, readers)


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    if hasattr(value, "to_tuple"):
        return _tensors(value.to_tuple())
    return []
