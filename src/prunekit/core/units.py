"""Layer units: the repeated blocks a network is a sequence of (residual blocks, inverted
residuals, transformer layers), in execution order, and the edits that remove them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from prunekit.core.block_edits import LayersEdit
from prunekit.core.edits import Keep, RemoveEdit
from prunekit.core.hooks import run_hooked
from prunekit.core.inputs import ExampleInputs
from prunekit.core.layers import block_shapes, layer_lists
from prunekit.core.surgery import get_module
from prunekit.errors import PrunekitError

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(frozen=True)
class Unit:
    """A block in the depth sequence; ``removable`` when its output has its input's shape."""

    path: str
    removable: bool


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
    return [Unit(p, all(i == o for i, o in shapes[p]) and _in_list(model, p)) for p in order]


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
    follow). Lists are edited deepest first so that every path stays valid."""
    by_path = {u.path: u for u in units}
    lists: dict[str, list[int]] = {}
    for path in remove:
        unit = by_path.get(path)
        if unit is None or not unit.removable:
            raise PrunekitError(
                f"unit {path!r} cannot be removed: it changes the shape of what flows through "
                "it (a stride or width change) or is not an entry of a layer list"
            )
        parent, index = _position(model, path)
        lists.setdefault(parent, []).append(index)
    edits: list[Any] = []
    for parent in sorted(lists, key=lambda p: -p.count(".")):
        size = len(get_module(model, parent))
        drop = set(lists[parent])
        if len(drop) >= size:
            names = [n for n, _ in get_module(model, parent).named_children()]
            edits.extend(RemoveEdit(f"{parent}.{names[i]}") for i in sorted(drop))  # identities
            continue
        edits.append(LayersEdit(parent, Keep(size, tuple(i for i in range(size) if i not in drop))))
    return edits
