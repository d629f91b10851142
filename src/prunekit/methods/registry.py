"""The one place that knows every method: each method folder registers itself here, in its
``__init__.py``, with one ``register`` call per config type (PEFT-style). ``pk.prune``, recipes,
the run pipeline and the cross-method tests read this registry; none keeps its own list.

Adding a method: a new folder under ``methods/`` whose ``__init__.py`` calls ``register``, plus
its import in ``methods/__init__.py`` (docs/architecture.md, "Adding a method").
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prunekit.errors import ConfigError, UnknownNameError

Method = Callable[..., Any]
OPTIONAL_ARGUMENTS = ("train_data", "val_data", "loss_fn")


@dataclass(frozen=True)
class MethodEntry:
    """One method: its recipe name (``method.name``), its config dataclass, the function that
    prunes (``(model, config, example_inputs, train_data=, val_data=, loss_fn=)`` and returns a
    ``MethodOutcome``), whether it trains with checkpoints it can resume from (its config has
    ``checkpoint_dir``, which the run pipeline points at the run's checkpoints) and the docs page
    that explains it (relative to docs/)."""

    name: str
    config: type
    prune: Method
    resumable: bool
    page: str

    @property
    def takes(self) -> frozenset[str]:
        """The optional pk.prune arguments this method uses (``train_data``, ``val_data``,
        ``loss_fn``), read from its function's signature: pk.prune refuses the others rather
        than drop them."""
        names = inspect.signature(self.prune).parameters
        return frozenset(n for n in OPTIONAL_ARGUMENTS if n in names)

    def taken(self, **given: Any) -> dict[str, Any]:
        """The arguments of ``given`` this method takes (a caller with data for every method,
        such as the run pipeline, passes only these)."""
        return {name: value for name, value in given.items() if name in self.takes}


_ENTRIES: dict[str, MethodEntry] = {}


def register(entry: MethodEntry) -> None:
    """Called by each method folder's ``__init__.py``; a name or config type registered twice
    is a programming error."""
    for known in _ENTRIES.values():
        if entry.config is known.config and entry.name != known.name:
            raise ValueError(f"{entry.config.__name__} is already registered as {known.name!r}")
    _ENTRIES[entry.name] = entry


def entries() -> list[MethodEntry]:
    """Every registered method, in registration order."""
    import prunekit.methods  # noqa: F401  (its __init__ imports every method folder)

    return list(_ENTRIES.values())


def entry_named(name: str) -> MethodEntry:
    by_name = {e.name: e for e in entries()}
    if name not in by_name:
        raise UnknownNameError("method", name, list(by_name), hint=" (recipe field method.name)")
    return by_name[name]


def entry_for(config: object) -> MethodEntry:
    for entry in entries():
        if type(config) is entry.config:
            return entry
    known = ", ".join(f"pk.{e.config.__name__}" for e in entries())
    raise ConfigError(f"config is a {type(config).__name__}; expected one of {known}")


def method_for(config: object) -> Method:
    return entry_for(config).prune
