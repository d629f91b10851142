"""The conditions every benchmark result records: CPU, threads, library versions, date."""

from __future__ import annotations

import platform
import time
from typing import Any

import torch

import prunekit as pk


def machine(threads: int | None = None) -> dict[str, Any]:
    return {
        "cpu": platform.processor() or platform.machine(),
        "threads": threads or torch.get_num_threads(),
        "torch": torch.__version__,
        "prunekit": pk.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }
