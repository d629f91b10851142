"""``pk.save`` and ``pk.load``: safetensors for tensors, JSON for structure, no pickle."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_model
from torch import nn

from prunekit.core.edit.plan import Plan
from prunekit.core.model.structure import structure_difference
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
from prunekit.io.rebuild import BaseFactory, build_base, skeleton
from prunekit.models.spec import ModelSpec, attach_plan, attach_spec, has_plan, plan_of, spec_of


def save(
    result: Any,
    directory: str | os.PathLike[str],
    plan: Plan | None = None,
    base: ModelSpec | BaseFactory | nn.Module | None = None,
) -> Path:
    """Write ``weights.safetensors``, ``plan.json`` and ``base.json`` into ``directory``.

    ``result`` is a ``PruneResult`` or a model: a model returned by ``pk.prune`` or ``pk.load``
    carries its base and every edit made to it (pruned twice, loaded then fine-tuned: all the
    same), so no ``plan`` is needed. ``base`` overrides the recorded base: a ``ModelSpec``, or,
    for a model whose structure was changed by hand, a factory building the structure the plan
    applies to (then pk.load needs the same ``base=``). Before writing, the base is rebuilt
    without weights and the plan replayed: a model that this would not reproduce is refused
    here, not when it is loaded. Each file is written atomically."""
    is_model = isinstance(result, nn.Module)
    model = result if is_model else getattr(result, "model", None)
    if not isinstance(model, nn.Module):
        raise PrunekitError(
            f"pk.save expects a PruneResult or nn.Module, got {type(result).__name__}"
        )
    if plan is None:
        plan = plan_of(model) if has_plan(model) or is_model else result.plan
    factory = None if base is None or isinstance(base, ModelSpec) else base
    spec = base if isinstance(base, ModelSpec) else None
    if factory is None and spec is None:
        spec = spec_of(model) or (None if is_model else result.base)
    if spec is not None or factory is not None:
        _check_reproducible(model, spec, factory, plan)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / WEIGHTS) as tmp:
        save_model(model, str(tmp), metadata={"format": "prunekit.weights"})
    write_text(out / PLAN, plan.dumps() + "\n")
    write_json(out / BASE, base_json(spec))
    return out


def _check_reproducible(model: nn.Module, spec: ModelSpec | None, factory: Any, plan: Plan) -> None:
    """Refuse, before writing, a save that pk.load could not turn back into ``model``."""
    what = "the base= given" if factory is not None else f"its base ({spec.source} {spec.name})"
    fix = (
        "Fix: pk.save(model, path, base=factory) with a function that builds the unpruned "
        "structure, then pk.load(path, base=factory)"
    )
    name = type(model).__name__
    try:
        rebuilt = skeleton(spec, factory)
    except PrunekitError as exc:
        message = f"pk.save cannot rebuild {what} of this {name}: {exc}. {fix}"
        raise SaveFormatError(message) from exc
    try:
        Plan(list(plan.edits)).apply(rebuilt)
    except PrunekitError as exc:
        raise SaveFormatError(
            f"pk.save: the plan of this {name} ({len(plan)} edits) does not replay on {what}: "
            f"{exc}. {fix}"
        ) from exc
    difference = structure_difference(model, rebuilt)
    if difference is not None:
        raise SaveFormatError(
            f"pk.save cannot reproduce this {name} from {what} and its plan of {len(plan)} "
            f"edits: {difference}. The model was changed after it was built or pruned (a layer "
            f"replaced by hand?). {fix}"
        )


def load(
    directory: str | os.PathLike[str],
    base: BaseFactory | nn.Module | None = None,
    device: str = "cpu",
) -> nn.Module:
    """Rebuild the base model (from base.json, or ``base``), replay the plan, load the weights
    strictly onto ``device``. ``base`` is a factory (or a fresh module) for user-defined
    architectures. The model returned carries its base and plan, so pk.save saves it again."""
    root = Path(directory)
    if not root.is_dir():
        raise SaveFormatError(f"{root} is not a directory written by pk.save")
    spec = parse_base(read_json(root / BASE), root / BASE)
    plan = Plan.from_json(read_json(root / PLAN))
    target = _device(device)
    model = build_base(spec, base)
    plan.apply(model)
    weights = root / WEIGHTS
    if not weights.is_file():
        raise SaveFormatError(f"{weights} is missing")
    try:
        _load_weights(model, weights)
    except (SafetensorError, OSError, RuntimeError) as exc:
        reason = str(exc) if len(str(exc)) < 300 else str(exc)[:300] + " ..."
        raise SaveFormatError(
            f"{weights} could not be loaded into the rebuilt model: {reason}; "
            "the file is truncated or corrupted, or belongs to another "
            "model"
        ) from exc
    if spec is not None:
        attach_spec(model, spec)
    attach_plan(model, plan)
    return model.to(target).eval()


def _device(device: str | torch.device) -> torch.device:
    """The device to load onto, checked before any work: a clear error when it is missing."""
    try:
        target = torch.device(device)
        torch.empty(0, device=target)
    except (RuntimeError, AssertionError) as exc:
        raise PrunekitError(
            f"pk.load(device={str(device)!r}): that device is not available here ({exc}); "
            "fix: load with device='cpu' and move the model later"
        ) from exc
    return target


def _load_weights(model: nn.Module, weights: Path) -> None:
    """Strict load in the saved dtype that keeps the module's state-dict metadata (some modules
    check its version) and restores tied tensors, which safetensors stores once."""
    stored = load_file(str(weights))
    saved_dtypes = {t.dtype for t in stored.values() if t.is_floating_point()}
    if len(saved_dtypes) == 1:  # a half / bfloat16 save: the rebuilt base is float32
        model.to(saved_dtypes.pop())
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
