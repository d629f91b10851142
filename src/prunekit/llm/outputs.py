"""Output folders of prunekit llm and heal: written in a staging folder beside the target and
moved in at the end (a crash or a full disk leaves the previous output as it was); an existing
folder is replaced only when prunekit wrote it (a marker file says so) and it holds no input."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from prunekit.errors import PrunekitError
from prunekit.io.atomic import current_umask

MARKER = ".prunekit-llm"


def check_output(out: Path, inputs: list[Path]) -> Path:
    """``out`` resolved, after refusing a folder that is or holds an input, or that prunekit
    did not write."""
    out = out.resolve()
    for source in inputs:
        source = source.resolve()
        if out == source or out in source.parents:
            raise PrunekitError(
                f"--out {out} is or contains the input {source}; writing there would replace "
                "the model being read; fix: name another folder"
            )
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise PrunekitError(
            f"--out {out} exists and is not a folder prunekit llm wrote (no {MARKER} in it); "
            "refusing to replace it; fix: name a new or empty folder"
        )
    return out


def staging_for(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))


def finish(staging: Path, out: Path) -> None:
    """Mark, give the usual file modes (mkdtemp makes the folder private), and move in; a
    previous output is removed only after the new one is in place."""
    (staging / MARKER).write_text("written by prunekit llm\n", encoding="utf-8")
    mask = current_umask()
    staging.chmod(0o777 & ~mask)
    for item in staging.iterdir():
        item.chmod(0o666 & ~mask)
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
