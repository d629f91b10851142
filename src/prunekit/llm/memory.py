"""Give freed heap memory back to the operating system between layers. glibc keeps freed
blocks below its (adaptive) mmap threshold in the heap, so the resident size of a long
layer-by-layer pass would creep up with depth; ``malloc_trim`` returns them."""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
from functools import cache
from pathlib import Path


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


def peak_resident_bytes() -> int:
    """Peak resident memory of this process so far, bytes: VmHWM where /proc has it (the
    high-water mark of this program's own memory; ru_maxrss would also count the parent's
    resident memory at the fork that started this process), else ru_maxrss (kilobytes)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
