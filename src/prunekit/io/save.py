"""``pk.save`` and ``pk.load``: safetensors for tensors, JSON for structure, no pickle."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_model
from torch import nn

from prunekit.core.plan import Plan
from prunekit.errors import PrunekitError
from prunekit.io.atomic import atomic_path, write_json, write_text
from prunekit.io.format import (
    BASE,
    PLAN,
    WEIGHTS,
    SaveFormatError,
    base_json,
    parse_base,
    read_json,
)
from prunekit.models.spec import ModelSpec, attach_spec, spec_of

BaseFactory = Callable[[], nn.Module]


def save(
    result: Any,
    directory: str | os.PathLike[str],
    plan: Plan | None = None,
    base: ModelSpec | None = None,
) -> Path:
    """Write ``weights.safetensors``, ``plan.json`` and ``base.json`` into ``directory``.

    ``result`` is a ``PruneResult`` or a model (then pass ``plan``; an unpruned model saves an
    empty plan). Each file is written atomically: a crash leaves the previous save intact.
    """
    is_model = isinstance(result, nn.Module)
    model = result if is_model else getattr(result, "model", None)
    if not isinstance(model, nn.Module):
        raise PrunekitError(
            f"pk.save expects a PruneResult or nn.Module, got {type(result).__name__}"
        )
    if not is_model:  # a PruneResult (a model may have its own .plan or .base attributes)
        plan = plan or result.plan
        base = base or result.base
    plan = plan or Plan()
    base = base or spec_of(model)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / WEIGHTS) as tmp:
        save_model(model, str(tmp), metadata={"format": "prunekit.weights"})
    write_text(out / PLAN, plan.dumps() + "\n")
    write_json(out / BASE, base_json(base))
    return out


def load(
    directory: str | os.PathLike[str],
    base: BaseFactory | nn.Module | None = None,
    device: str = "cpu",
) -> nn.Module:
    """Rebuild the base model (from base.json, or ``base``), replay the plan, load the weights
    strictly. ``base`` is a factory (or a fresh module) for user-defined architectures."""
    from prunekit.zoo.models import build_from_spec

    root = Path(directory)
    if not root.is_dir():
        raise SaveFormatError(f"{root} is not a directory written by pk.save")
    spec = parse_base(read_json(root / BASE), root / BASE)
    plan = Plan.from_json(read_json(root / PLAN))
    if base is not None:
        model = base() if callable(base) and not isinstance(base, nn.Module) else base
        if not isinstance(model, nn.Module):
            raise PrunekitError(
                "pk.load(base=...) must be an nn.Module or a function returning one"
            )
    elif spec is not None:
        model = build_from_spec(spec, weights=False)
    else:
        raise SaveFormatError(
            f"{root / BASE} does not say how to rebuild the model (it was "
            "saved from a user-defined model); fix: pk.load(path, base=factory)"
        )
    plan.apply(model)
    weights = root / WEIGHTS
    if not weights.is_file():
        raise SaveFormatError(f"{weights} is missing")
    try:
        _load_weights(model, weights, device)
    except (SafetensorError, OSError, RuntimeError) as exc:
        reason = str(exc) if len(str(exc)) < 300 else str(exc)[:300] + " ..."
        raise SaveFormatError(
            f"{weights} could not be loaded into the rebuilt model: {reason}; "
            "the file is truncated or corrupted, or belongs to another "
            "model"
        ) from exc
    if spec is not None:
        attach_spec(model, spec)
    return model.eval()


def _load_weights(model: nn.Module, weights: Path, device: str) -> None:
    """Strict load that keeps the module's state-dict metadata (some modules check its version)
    and restores tied tensors, which safetensors stores once."""
    stored = load_file(str(weights), device=device)
    expected = model.state_dict()
    by_storage: dict[tuple[int, tuple[int, ...]], str] = {}
    for name, tensor in expected.items():
        if name in stored and tensor.numel() > 0:
            by_storage.setdefault((tensor.data_ptr(), tuple(tensor.shape)), name)
    state: OrderedDict[str, torch.Tensor] = OrderedDict(stored)
    for name, tensor in expected.items():
        alias = by_storage.get((tensor.data_ptr(), tuple(tensor.shape)))
        if name not in state and alias is not None and tensor.numel() > 0:
            state[name] = stored[alias]
    state._metadata = getattr(expected, "_metadata", None)  # type: ignore[attr-defined]
    model.load_state_dict(state, strict=True)
