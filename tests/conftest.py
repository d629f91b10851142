"""Shared test setup: a private cache directory and a fixed thread count."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("prunekit-cache")
    before = os.environ.get("PRUNEKIT_CACHE")
    os.environ["PRUNEKIT_CACHE"] = str(path)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield path
    if before is None:
        os.environ.pop("PRUNEKIT_CACHE", None)
    else:
        os.environ["PRUNEKIT_CACHE"] = before
