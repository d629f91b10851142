"""The saved-run format: base.json (how to rebuild the base) and its versioned validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prunekit._version import __version__
from prunekit.errors import PrunekitError
from prunekit.models.spec import ModelSpec

BASE_FORMAT = "prunekit.base"
BASE_VERSION = 1
WEIGHTS = "weights.safetensors"
PLAN = "plan.json"
BASE = "base.json"


class SaveFormatError(PrunekitError, ValueError):
    """A saved directory is incomplete, corrupted, or from an unknown format version."""


def base_json(spec: ModelSpec | None) -> dict[str, Any]:
    return {
        "format": BASE_FORMAT,
        "version": BASE_VERSION,
        "prunekit_version": __version__,
        "model": spec.to_dict() if spec is not None else None,
    }


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise SaveFormatError(
            f"{path} is missing; a prunekit save holds {WEIGHTS}, {PLAN} and {BASE}"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SaveFormatError(f"{path} is not valid JSON ({exc}); the save is corrupted") from exc


def parse_base(data: Any, path: Path) -> ModelSpec | None:
    if not isinstance(data, dict) or data.get("format") != BASE_FORMAT:
        raise SaveFormatError(f"{path}: 'format' must be {BASE_FORMAT!r}")
    unknown = set(data) - {"format", "version", "prunekit_version", "model"}
    if unknown:
        raise SaveFormatError(f"{path}: unknown fields {sorted(unknown)}")
    version = data.get("version")
    if version != BASE_VERSION:
        raise SaveFormatError(
            f"{path}: format version {version!r} is not readable by prunekit "
            f"{__version__} (it reads version {BASE_VERSION}); "
            "upgrade prunekit to load newer saves"
        )
    model = data.get("model")
    if model is None:
        return None
    if not isinstance(model, dict):
        raise SaveFormatError(f"{path}: 'model' must be an object or null")
    try:
        return ModelSpec.from_dict(model)
    except (KeyError, TypeError, ValueError) as exc:
        raise SaveFormatError(f"{path}: invalid model spec: {exc}") from exc
