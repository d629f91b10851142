"""Give freed heap memory back to the operating system between layers. glibc keeps freed
blocks below its (adaptive) mmap threshold in the heap, so the resident size of a long
layer-by-layer pass would creep up with depth; ``malloc_trim`` returns them."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _trim() -> object | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None)
    except OSError:
        return None


def release_freed_memory() -> None:
    trim = _trim()
    if trim is not None:  # glibc; elsewhere (macOS, musl) nothing to do
        trim(0)  # type: ignore[operator]
