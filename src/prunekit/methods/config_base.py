"""``MethodConfig``: the base of every method's config. It owns what all of them share: the
checks of common field kinds (a choice, a count, a positive rate, a fraction), each failing with
"<Config>.<field> is <value>; expected <what>", and the conversion to and from a plain mapping
(JSON, YAML recipes), nested configs and ``Target`` included, decoded from the type hints."""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Sequence
from typing import Any, Self

from prunekit.core.budget.target import Target
from prunekit.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class MethodConfig:
    """Subclasses are frozen dataclasses that validate in ``__post_init__`` with the checks
    below and register with the method registry (``methods/registry.py``)."""

    def _fail(self, field: str, expected: str) -> typing.NoReturn:
        value = getattr(self, field)
        raise ConfigError(f"{type(self).__name__}.{field} is {value!r}; expected {expected}")

    def _one_of(self, field: str, options: Sequence[str]) -> None:
        if getattr(self, field) not in options:
            self._fail(field, f"one of {', '.join(options)}")

    def _at_least(self, field: str, minimum: int) -> None:
        """An integer count, at least ``minimum`` (epochs, batches)."""
        value = getattr(self, field)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self._fail(field, f"an integer >= {minimum}")

    def _positive(self, field: str) -> None:
        """A number above 0 (learning rates)."""
        value = getattr(self, field)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self._fail(field, "a number > 0")

    def _fraction(self, field: str, low_closed: bool = False) -> None:
        """A fraction in (0, 1), or [0, 1) with ``low_closed``."""
        value = getattr(self, field)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not (0.0 <= value < 1.0 if low_closed else 0.0 < value < 1.0):
            self._fail(field, f"a fraction in {'[0, 1)' if low_closed else '(0, 1)'}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values (JSON-ready): nested configs and ``Target`` as mappings,
        tuples as lists, paths as strings. A field holding a callable, module or type (an
        ``augment`` function, ``ignore=[nn.Linear]``) cannot be written and is an error."""
        return {
            f.name: _plain(getattr(self, f.name), f"{type(self).__name__}.{f.name}")
            for f in ordered_fields(self)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str | None = None) -> Self:
        """The config from ``to_dict``'s mapping (or a recipe's): unknown fields are named."""
        return decode(cls, data, where or cls.__name__)


@dataclasses.dataclass(frozen=True)
class LatencyTargetConfig(MethodConfig):
    """The base of the configs of methods that prune to ``Target(latency=...)``: the intra-op
    threads the latency is measured with (``latency_threads``, default torch's current count)
    and ``latency_refresh=True`` to measure the layer tables again instead of reading the cache
    ($PRUNEKIT_CACHE/latency, else ~/.cache/prunekit/latency). Keyword-only fields."""

    latency_threads: int | None = dataclasses.field(default=None, kw_only=True)
    latency_refresh: bool = dataclasses.field(default=False, kw_only=True)

    def _check_latency_fields(self) -> None:
        if self.latency_threads is not None:
            self._at_least("latency_threads", 1)
        if not isinstance(self.latency_refresh, bool):
            self._fail("latency_refresh", "True or False")


def ordered_fields(config: Any) -> list[dataclasses.Field[Any]]:
    """A config's fields in the order of its own constructor: the keyword-only fields it
    inherits (``latency_threads``) after its own."""
    return sorted(dataclasses.fields(config), key=lambda f: bool(f.kw_only))


def _plain(value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name), f"{where}.{f.name}")
            for f in dataclasses.fields(value)
        }
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ConfigError(
        f"{where} is {value!r}, which has no plain (JSON) form; fix: give it by name (an fnmatch "
        "pattern of module paths) or leave it out of configs that are written to files"
    )


def decode(cls: type, fields: dict[str, Any], where: str) -> Any:
    """A config dataclass from plain values: unknown fields are named, a mapping given to a
    field whose type is a dataclass (``Target``, DoubleConfig's nested configs) is decoded as
    one, and lists become tuples."""
    known = [f.name for f in ordered_fields(cls)]
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]} is not a field of {cls.__name__}; known fields: "
            f"{', '.join(known)}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in fields.items():
        inner = _dataclass_in(hints.get(name))
        if isinstance(value, dict) and inner is not None:
            value = decode(inner, value, f"{where}.{name}")
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass a type hint names (``Target``, ``Target | None``), if any."""
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    return None


def targets_in(config: Any, where: str | None = None) -> list[tuple[str, Any, Target]]:
    """Every ``Target`` in ``config`` and the configs nested in it: its field path
    (``DoubleConfig.channel.target``), the config holding it, and the target."""
    where = where or type(config).__name__
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return []
    found = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, Target):
            found.append((f"{where}.{f.name}", config, value))
        else:
            found += targets_in(value, f"{where}.{f.name}")
    return found
