"""What a streamed prune keeps: decoder layers (original indices), and per kept layer the
attention heads and MLP neurons, and the hidden channels. JSON in, JSON out."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LLMPlan:
    layers: tuple[int, ...]  # kept decoder layers, original indices, in order
    heads: dict[int, tuple[int, ...]] | None = None  # layer -> kept query heads
    kv_heads: dict[int, tuple[int, ...]] | None = None  # layer -> kept key/value heads
    neurons: dict[int, tuple[int, ...]] | None = None  # layer -> kept MLP neurons
    hidden: tuple[int, ...] | None = None  # kept hidden channels

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LLMPlan:
        def per_layer(value: Any) -> dict[int, tuple[int, ...]] | None:
            return None if value is None else {int(k): tuple(v) for k, v in value.items()}

        hidden = data.get("hidden")
        return cls(
            tuple(data["layers"]),
            per_layer(data.get("heads")),
            per_layer(data.get("kv_heads")),
            per_layer(data.get("neurons")),
            None if hidden is None else tuple(hidden),
        )
