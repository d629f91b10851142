"""The output directory of a run: one run per directory (a lock, and the recipe it holds),
the state of each stage written atomically, so that running again resumes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from prunekit.errors import ConfigError
from prunekit.io.atomic import write_text
from prunekit.run.recipe import Recipe

RECIPE = "recipe.json"
STATE = "state.json"
LOCK = ".lock"


class Workspace:
    def __init__(self, root: Path, recipe: Recipe, force: bool = False) -> None:
        self.root = root
        self._lock_taken = False
        held = root / RECIPE
        if held.is_file():
            previous = json.loads(held.read_text())
            if previous.get("digest") != recipe.digest():
                if not force:
                    raise ConfigError(
                        f"{root} holds another run (recipe {previous.get('digest')}, this one "
                        f"{recipe.digest()}); fix: choose another --out, or pass --force to "
                        "replace it"
                    )
                shutil.rmtree(root)
        elif root.is_dir() and any(root.iterdir()):
            if not force:
                raise ConfigError(
                    f"{root} is not empty and holds no prunekit run; fix: choose another --out, "
                    "or pass --force to replace its contents"
                )
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        self._lock()
        write_text(held, json.dumps({"digest": recipe.digest(), **recipe.model_dump()}, indent=1))

    def _lock(self) -> None:
        path = self.root / LOCK
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pid = int(path.read_text().strip() or 0)
            if pid and _alive(pid):
                raise ConfigError(
                    f"{self.root} is in use by another prunekit run (process {pid}); wait for "
                    f"it, or remove {path} if that process is gone"
                ) from None
            path.unlink()  # a stale lock: its process is gone
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        self._lock_taken = True

    def release(self) -> None:
        if self._lock_taken:
            (self.root / LOCK).unlink(missing_ok=True)
            self._lock_taken = False


class State:
    """Per-seed stage results in ``state.json``; a stage listed there is done."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / STATE
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
        if "inputs" not in self.data.get("measure", {"before": {"inputs": ""}})["before"]:
            del self.data["measure"]  # by a prunekit that did not record the inputs: measure again

    def done(self, stage: str) -> bool:
        return stage in self.data

    def record(self, stage: str, value: dict[str, Any]) -> None:
        self.data[stage] = value
        write_text(self.directory / STATE, json.dumps(self.data, indent=1, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
