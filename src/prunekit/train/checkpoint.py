"""Training checkpoints without pickle: one safetensors file holding the tensors (model,
optimizer state, RNG) and, as its metadata, the rest as JSON. Written to a temporary file and
renamed, so an interrupted save keeps the previous checkpoint whole."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from prunekit.io.atomic import atomic_path

TENSORS = "checkpoint.safetensors"


def save_checkpoint(
    directory: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    extra_tensors: dict[str, torch.Tensor],
    state: dict[str, Any],
) -> None:
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for index, values in opt["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().contiguous().clone()
    tensors["rng.torch"] = torch.get_rng_state()
    for key, value in extra_tensors.items():
        tensors[f"extra.{key}"] = value.detach().contiguous().clone()
    metadata = {"state": json.dumps({"param_groups": opt["param_groups"], **state})}
    with atomic_path(root / TENSORS) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_checkpoint(
    directory: str | os.PathLike[str], model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """Restore model, optimizer and RNG; returns (extra tensors, state) or None if absent."""
    root = Path(directory)
    if not (root / TENSORS).is_file():
        return None
    tensors = load_file(str(root / TENSORS))
    with safe_open(str(root / TENSORS), framework="pt") as handle:
        state = json.loads((handle.metadata() or {})["state"])
    model.load_state_dict(
        {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    )
    opt_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            opt_state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
    torch.set_rng_state(tensors["rng.torch"])
    extra = {k.removeprefix("extra."): v for k, v in tensors.items() if k.startswith("extra.")}
    return extra, state
