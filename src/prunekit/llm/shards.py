"""A safetensors file written one tensor at a time. The format is an 8-byte little-endian
header length, a JSON header (name -> dtype, shape, byte offsets; padded with spaces to a
multiple of 8) and the tensors' bytes in order. Every shape is known before any data is read,
so the header goes first and memory holds one tensor, never a whole shard."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

CODES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
SIZES = {code: torch.empty((), dtype=dtype).element_size() for dtype, code in CODES.items()}


@dataclass(frozen=True)
class Entry:
    name: str
    shape: tuple[int, ...]
    code: str  # safetensors dtype code, e.g. "BF16"

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * SIZES[self.code]


def write_shard(
    path: Path,
    entries: Sequence[Entry],
    tensor: Callable[[Entry], torch.Tensor],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write ``entries`` to ``path``, asking ``tensor(entry)`` for each one's data in order."""
    header: dict[str, object] = {"__metadata__": metadata or {}}
    offset = 0
    for entry in entries:
        header[entry.name] = {
            "dtype": entry.code,
            "shape": list(entry.shape),
            "data_offsets": [offset, offset + entry.nbytes],
        }
        offset += entry.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        for entry in entries:
            data = tensor(entry)
            if tuple(data.shape) != entry.shape or CODES.get(data.dtype) != entry.code:
                raise ValueError(
                    f"{entry.name}: got {tuple(data.shape)} {data.dtype}, the header says "
                    f"{entry.shape} {entry.code}"
                )
            flat = data.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
            handle.write(flat.numpy().tobytes())


def group(entries: Sequence[Entry], limit: int) -> list[list[Entry]]:
    """Consecutive entries in shards of at most ``limit`` bytes (a larger tensor alone)."""
    shards: list[list[Entry]] = [[]]
    size = 0
    for entry in entries:
        if shards[-1] and size + entry.nbytes > limit:
            shards.append([])
            size = 0
        shards[-1].append(entry)
        size += entry.nbytes
    return shards
