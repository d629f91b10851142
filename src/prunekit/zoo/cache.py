"""Where prunekit keeps generated data: $PRUNEKIT_CACHE, else ~/.cache/prunekit."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    root = os.environ.get("PRUNEKIT_CACHE") or Path.home() / ".cache" / "prunekit"
    path = Path(root).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
