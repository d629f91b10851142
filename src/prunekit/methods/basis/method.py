"""Basis scaling, basis pruning and double pruning."""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from prunekit.core.analysis.graph import ChannelGraph
from prunekit.core.budget.metrics import count_macs, count_params
from prunekit.core.edit.block_edits import ReplaceEdit
from prunekit.core.edit.plan import Plan
from prunekit.core.edit.surgery import get_module, set_module
from prunekit.core.model.batches import LossFn, batch_loss
from prunekit.core.model.hooks import run_hooked
from prunekit.core.model.inputs import ExampleInputs
from prunekit.core.model.modes import eval_mode
from prunekit.core.model.ranks import sum_over_ranks
from prunekit.errors import ConfigError
from prunekit.methods.basis.budget import LayerCost, check_reachable, select
from prunekit.methods.basis.config import BasisConfig, DoubleConfig
from prunekit.methods.basis.forms import Forms, final_check
from prunekit.methods.basis.layers import BasisScaled, decomposable, decompose
from prunekit.methods.outcome import MethodOutcome
from prunekit.train.loop import fit

_BN = nn.modules.batchnorm._BatchNorm


def _positions(model: nn.Module, paths: list[str], inputs: ExampleInputs) -> dict[str, int]:
    """Output positions per sample of each layer, summed over its calls."""
    seen = dict.fromkeys(paths, 0)
    handles = []
    for path in paths:

        def hook(m: nn.Module, _a: Any, out: torch.Tensor, path: str = path) -> None:
            seen[path] += out.numel() // max(1, out.shape[0] * m.weight.shape[0])

        handles.append(get_module(model, path).register_forward_hook(hook))
    run_hooked(model, inputs, handles)
    return seen


def _cost(model: nn.Module, path: str, positions: int) -> LayerCost:
    """The cost model of a layer before its decomposition (full rank: min(C_out, n))."""
    weight = get_module(model, path).weight
    n, out = weight[0].numel(), weight.shape[0]
    return LayerCost(path, n, out, min(n, out), positions)


def _layers(
    model: nn.Module, head: set[nn.Module], config: BasisConfig
) -> tuple[list[str], list[str]]:
    chosen, left = [], []
    for path, module in model.named_modules():
        if not isinstance(module, nn.Linear | nn.modules.conv._ConvNd) or module in head:
            continue
        if any(fnmatch.fnmatchcase(path, p) for p in config.ignore):
            continue
        (chosen if decomposable(module) else left).append(path)
    return chosen, left


def _importance(
    model: nn.Module, layers: list[BasisScaled], data: Iterable[Any], loss_fn: LossFn | None
) -> list[torch.Tensor]:
    """I_j = (mean over batches of dL/ds_j * s_j)^2 over the whole training split (every rank's
    shard under torch.distributed)."""
    sums = [torch.zeros(m.rank, dtype=torch.float64) for m in layers]
    batches = 0
    with eval_mode(model), torch.enable_grad():
        for batch in data:
            model.zero_grad(set_to_none=True)
            batch_loss(model, batch, loss_fn).backward()
            for total, m in zip(sums, layers, strict=True):
                if m.scale.grad is not None:
                    total += (m.scale.grad * m.scale).detach().double().cpu()
            batches += 1
    model.zero_grad(set_to_none=True)
    count = torch.tensor([batches], dtype=torch.float64)
    sum_over_ranks([*sums, count])  # under torchrun: every rank keeps the same bases
    batches = int(count[0])
    if batches == 0:
        raise ConfigError("train_data yielded no batch for the Taylor importance")
    return [(s / batches) ** 2 for s in sums]


def prune_basis(
    model: nn.Module,
    config: BasisConfig,
    example_inputs: ExampleInputs,
    train_data: Iterable[Any] | None = None,
    loss_fn: LossFn | None = None,
    base: dict[str, int] | None = None,
) -> MethodOutcome:
    if train_data is None:
        raise ConfigError("BasisConfig trains the scaling factors: pass train_data= to pk.prune")
    head = ChannelGraph(model, example_inputs).output_modules
    paths, left = _layers(model, head, config)
    if not paths:
        raise ConfigError(
            f"{type(model).__name__} has no ungrouped conv or linear layer to decompose"
        )
    current = {"params": count_params(model), "macs": count_macs(model, example_inputs)}
    base = base or current
    positions = _positions(model, paths, example_inputs)
    targets = {k: v for k, v in config.target.given().items() if k in ("params", "macs")}
    check_reachable([_cost(model, path, positions[path]) for path in paths], base, targets, current)
    trainable = {p: p.requires_grad for p in model.parameters()}
    layers = []
    for path in paths:
        layer = decompose(get_module(model, path))
        set_module(model, path, layer)
        layers.append(layer)
    forms = None
    if config.export == "latency":
        forms = Forms(model, paths, example_inputs, config.latency_threads)
    for p in model.parameters():
        p.requires_grad_(False)
    for m in layers:
        m.scale.requires_grad_(True)
    for module in model.modules():
        if module in head or (config.train_bn and isinstance(module, _BN)):
            for p in module.parameters(recurse=False):
                p.requires_grad_(True)
    fit(
        model,
        train_data,
        epochs=config.epochs,
        lr=config.lr,
        loss_fn=loss_fn,
        seed=config.seed,
        checkpoint_dir=config.checkpoint_dir,
    )
    scores = _importance(model, layers, train_data, loss_fn)
    costs = [
        LayerCost(path, m.basis.weight[0].numel(), m.back.weight.shape[0], m.rank, positions[path])
        for path, m in zip(paths, layers, strict=True)
    ]

    def choose(priced: list[LayerCost]) -> list[list[int]]:
        return select(priced, scores, base, targets, config.normalize, current)

    if forms is None:
        kept, split = choose(costs), [None] * len(paths)
    else:
        kept, split = forms.settle(paths, costs, choose)
    edits, ranks = [], {}
    for path, layer, keep, form in zip(paths, layers, kept, split, strict=True):
        layer.keep(keep)
        exported = layer.export(form)
        set_module(model, path, exported)
        if isinstance(exported, nn.Sequential):
            edits.append(ReplaceEdit.of(path, list(exported)))
        ranks[path] = {
            "kept": len(keep),
            "full": costs[paths.index(path)].rank,
            "merged": not isinstance(exported, nn.Sequential),
        }
        times = forms.times(path, len(keep)) if forms is not None else None
        if times is not None:
            ranks[path].update(split_ms=times[0], merged_ms=times[1])
    for p in model.parameters():
        p.requires_grad_(trainable.get(p, True))
    plan = Plan(edits)
    details = {"ranks": ranks, "left_as_is": left, "importance": [s.tolist() for s in scores]}
    return MethodOutcome(model, plan, details)


def prune_double(
    model: nn.Module,
    config: DoubleConfig,
    example_inputs: ExampleInputs,
    train_data: Iterable[Any] | None = None,
    loss_fn: LossFn | None = None,
) -> MethodOutcome:
    from prunekit.methods.channel.method import prune_channels

    channel, basis = config.stages()
    base = {"params": count_params(model), "macs": count_macs(model, example_inputs)}
    timed = channel.target.latency is not None
    original = copy.deepcopy(model) if timed else None  # the basis stage changes the latency
    first = prune_channels(model, channel, example_inputs, train_data=train_data, loss_fn=loss_fn)
    second = prune_basis(
        first.model, basis, example_inputs, train_data=train_data, loss_fn=loss_fn, base=base
    )
    plan = Plan([*first.plan.edits, *second.plan.edits])
    details = {"channel": first.details, **second.details}
    latencies = None
    if original is not None:
        latency = dict(first.details["latency"])
        latency["final"], latencies = final_check(original, second.model, example_inputs, channel)
        details["latency"] = latency
    return MethodOutcome(second.model, plan, details, latencies=latencies)
