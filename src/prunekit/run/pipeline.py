"""The pipeline a recipe describes, per seed: dense training (or transfer), pruning,
fine-tuning, evaluation and measurement, each stage saved so that running again resumes."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunekit.api import prune
from prunekit.core.budget.metrics import measure
from prunekit.core.edit.inputs_edit import feature_selector
from prunekit.io.save import load, save
from prunekit.latency.compare import compare
from prunekit.methods.config_base import LatencyTargetConfig, MethodConfig, targets_in
from prunekit.methods.registry import entry_for
from prunekit.run.recipe import Recipe, TrainSection
from prunekit.run.sources import build_data, build_model
from prunekit.run.workspace import State, Workspace
from prunekit.train.loop import accuracy, fit

SUMMARY = "summary.json"


def run_recipe(
    recipe: Recipe, out: str | Path, force: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Run every seed of ``recipe`` into ``out`` (resuming what is there) and summarise."""
    root = Path(out)
    workspace = Workspace(root, recipe, force)
    try:
        seeds = {}
        for seed in recipe.seeds:
            seeds[seed] = run_seed(recipe, root / f"seed-{seed}", seed, progress)
        summary = summarise(recipe, seeds)
        from prunekit.io.atomic import write_json

        write_json(root / SUMMARY, summary)
        return summary
    finally:
        workspace.release()


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"prunekit run: {message}", flush=True)


def run_seed(recipe: Recipe, directory: Path, seed: int, progress: bool) -> dict[str, Any]:
    state = State(directory)
    data = build_data(recipe.data.name, recipe.data.options, seed)
    size = recipe.data.batch_size
    train, val, test = (data.loader(s, batch_size=size) for s in ("train", "val", "test"))
    example = next(iter(test))[0][:2]
    factory = _factory(recipe)
    checkpoints = directory / "checkpoints"

    if not state.done("dense"):
        _say(progress, f"seed {seed}: dense model ({recipe.train.epochs} training epochs)")
        torch.manual_seed(seed)  # a new head (num_classes) is initialised the same every run
        model = factory()
        _train(model, train, recipe.train, seed, progress, checkpoints / "dense")
        save(model, directory / "dense")
        state.record("dense", {"accuracy": accuracy(model, test)})
    dense = load(directory / "dense", base=factory if _custom(recipe) else None)

    if not state.done("prune"):
        _say(progress, f"seed {seed}: pruning with {recipe.method.name}")
        config = recipe.method_config(seed)
        entry = entry_for(config)
        if entry.resumable and config.checkpoint_dir is None:
            config = dataclasses.replace(config, checkpoint_dir=str(checkpoints / "method"))
        data = entry.taken(train_data=train, val_data=val)
        inputs = example
        if _measures_latency(config):
            inputs = example[:1]  # a latency target is met where the run measures it
            config = _timed_with(config, recipe.latency_threads)
        result = prune(dense, config, example_inputs=inputs, **data)
        save(result, directory / "pruned")
        details = dict(result.details)
        selector = feature_selector(result.model)
        if selector is not None:
            details["feature_mask"] = selector.mask.int().tolist()
        state.record(
            "prune",
            {
                "config": type(config).__name__,
                "before": result.before.to_dict(),
                "after": result.after.to_dict(),
                "accuracy": accuracy(*_reduced(result.model, test)),
                "details": details,
                "layers": layer_table(dense, result.model),
                "edits": len(result.plan),
            },
        )
    pruned = load(directory / "pruned", base=factory if _custom(recipe) else None)

    if not state.done("finetune"):
        _say(progress, f"seed {seed}: fine-tuning ({recipe.finetune.epochs} epochs)")
        model, loader = _reduced(pruned, train)
        _train(model, loader, recipe.finetune, seed, progress, checkpoints / "finetune")
        save(pruned, directory / "model")  # it carries its base and plan (pk.load attached them)
        state.record("finetune", {"accuracy": accuracy(*_reduced(pruned, test))})
    final = load(directory / "model", base=factory if _custom(recipe) else None)

    if not state.done("measure"):
        _say(progress, f"seed {seed}: measuring latency ({recipe.latency_threads} threads)")
        one = example[:1]
        selector = feature_selector(final)
        reduced = one if selector is None else selector(one)
        # timed against each other in interleaved rounds, so drift affects both alike
        timed = compare(dense, final, one, recipe.latency_threads, candidate_inputs=reduced)
        before = dataclasses.replace(measure(dense, one), latency=timed.before)
        after = dataclasses.replace(measure(final, reduced), latency=timed.after)
        state.record("measure", {"before": before.to_dict(), "after": after.to_dict()})
    return state.data


def _measures_latency(config: Any) -> bool:
    """Whether ``config`` (or a config nested in it) prunes by measured latency: a latency
    target, or basis pruning's ``export="latency"``."""
    if not isinstance(config, MethodConfig):
        return False
    if getattr(config, "export", None) == "latency":
        return True
    if any(
        target.latency is not None for _, owner, target in targets_in(config) if owner is config
    ):
        return True
    return any(_measures_latency(getattr(config, f.name)) for f in dataclasses.fields(config))


def _timed_with(config: Any, threads: int) -> Any:
    """``config`` (and the configs nested in it) with ``latency_threads`` set to the run's
    latency threads where not given, so the target is met on the run's measurement."""
    changes = {
        f.name: _timed_with(getattr(config, f.name), threads)
        for f in dataclasses.fields(config)
        if isinstance(getattr(config, f.name), MethodConfig)
    }
    if isinstance(config, LatencyTargetConfig) and config.latency_threads is None:
        changes["latency_threads"] = threads
    return dataclasses.replace(config, **changes) if changes else config


def _train(
    model: nn.Module,
    data: Any,
    budget: TrainSection,
    seed: int,
    progress: bool,
    checkpoint_dir: Path,
) -> None:
    """``fit`` with a recipe's training section, resumable from ``checkpoint_dir``."""
    fit(
        model,
        data,
        budget.epochs,
        lr=budget.lr,
        weight_decay=budget.weight_decay,
        seed=seed,
        progress=progress,
        checkpoint_dir=checkpoint_dir,
    )


def _custom(recipe: Recipe) -> bool:
    return recipe.model.name.startswith("python:")


def _factory(recipe: Recipe) -> Any:
    def build() -> nn.Module:
        return build_model(recipe.model.name, dict(recipe.model.options))

    return build


class _Reduce:
    """A DataLoader whose inputs go through a feature selector (feature-pruned models)."""

    def __init__(self, data: Any, selector: Any) -> None:
        self.data, self.selector = data, selector

    def __iter__(self) -> Iterator[Any]:
        return self.selector.batches(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _reduced(model: nn.Module, data: Any) -> tuple[nn.Module, Any]:
    selector = feature_selector(model)
    return model, (data if selector is None else _Reduce(data, selector))


def layer_table(before: nn.Module, after: nn.Module) -> list[dict[str, Any]]:
    """Per layer with weights: its path, type and weight shape before and after (removed
    layers have no shape after; layers only in the pruned model have none before)."""

    def shapes(model: nn.Module) -> dict[str, tuple[str, list[int]]]:
        return {
            path: (type(m).__name__, list(m.weight.shape))
            for path, m in model.named_modules()
            if isinstance(getattr(m, "weight", None), torch.Tensor)
        }

    old, new = shapes(before), shapes(after)
    rows = []
    for path in list(old) + [p for p in new if p not in old]:
        kind = (old.get(path) or new[path])[0]
        rows.append(
            {
                "path": path,
                "type": kind if path not in new else new[path][0],
                "before": old[path][1] if path in old else None,
                "after": new[path][1] if path in new else None,
            }
        )
    return rows


def summarise(recipe: Recipe, seeds: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over seeds of what the report headlines."""

    def stats(values: list[float]) -> dict[str, float]:
        return {
            "mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values),
        }

    runs = list(seeds.values())
    # params and MACs of both models from one stage: the same inputs, the same batch; the
    # first seed's, with every seed's listed (a latency target may prune seeds differently)
    before, after = runs[0]["measure"]["before"], runs[0]["measure"]["after"]

    def latency(which: str) -> dict[str, float]:
        return stats([s["measure"][which]["latency"]["median_ms"] for s in runs])

    return {
        "recipe": recipe.model_dump(),
        "method": runs[0]["prune"]["config"],
        "seeds": list(seeds),
        "params": {
            "before": before["params"],
            "after": after["params"],
            "per_seed": [s["measure"]["after"]["params"] for s in runs],
        },
        "macs": {
            "before": before["macs"],
            "after": after["macs"],
            "per_seed": [s["measure"]["after"]["macs"] for s in runs],
            "inputs": {"before": before["inputs"], "after": after["inputs"]},
            "batch": before["batch_size"],
        },
        "accuracy": {
            stage: stats([s[key]["accuracy"] for s in runs])
            for stage, key in (("dense", "dense"), ("pruned", "prune"), ("finetuned", "finetune"))
        },
        "latency_ms": {
            "before": latency("before"),
            "after": latency("after"),
            "threads": before["latency"]["threads"],
            "batch": before["latency"]["batch_size"],
            "device": before["latency"]["device"],
            "dtype": before["latency"]["dtype"],
        },
    }
