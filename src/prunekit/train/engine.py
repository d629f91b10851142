"""The one training loop: every method that trains and the run pipeline's dense and fine-tune
stages run it, with hooks for what they add (a loss, masks, an evaluation per epoch).

It owns the optimiser (AdamW or SGD), the schedule (cosine over the steps, closed form, so a
resumed run gets the rates of an uninterrupted one, or constant), progress bars, seeding,
mixed precision on CUDA, DistributedDataParallel when ``torch.distributed`` is initialised, and
checkpoints after every epoch (``checkpoint_dir``: a later call with the same arguments resumes
after the last finished epoch and ends with the weights of an uninterrupted run).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from prunekit.core.model.inputs import model_device
from prunekit.errors import ConfigError
from prunekit.train.checkpoint import load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class TrainOptions:
    """``reseed_epochs``: seed every epoch from (seed, epoch), so that the data order and random
    draws of an epoch are the same whether or not the run resumed (always on with
    ``checkpoint_dir``)."""

    epochs: int
    lr: float
    weight_decay: float = 0.0
    optimizer: str = "adamw"  # or "sgd"
    momentum: float = 0.9  # SGD
    nesterov: bool = False  # SGD
    schedule: str = "cosine"  # or "constant"
    seed: int = 0
    progress: bool = False
    checkpoint_dir: str | os.PathLike[str] | None = None
    amp: bool = False  # float16 autocast with a gradient scaler, on CUDA only
    reseed_epochs: bool = False
    desc: str = "epoch"

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.lr <= 0:
            raise ConfigError(
                f"training epochs={self.epochs}, lr={self.lr}: epochs >= 0 and lr > 0 required"
            )
        if self.optimizer not in ("adamw", "sgd") or self.schedule not in ("cosine", "constant"):
            raise ConfigError(
                f"training optimizer={self.optimizer!r}, schedule={self.schedule!r}: expected "
                "'adamw' or 'sgd', and 'cosine' or 'constant'"
            )


class Hooks:
    """What a caller adds to the loop; every method has a default that does nothing."""

    def loss(self, net: nn.Module, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def start(self) -> None:
        """Before the first epoch of a run that did not resume."""

    def after_backward(self) -> None:
        """After the gradients of a step, before the optimiser uses them."""

    def after_step(self) -> None:
        """After the optimiser step."""

    def end_epoch(self, epoch: int) -> dict[str, float]:
        """After an epoch; what it returns joins that epoch's history entry."""
        return {}

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Tensors saved with each checkpoint (masks)."""
        return {}

    def load_extra_state(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what ``extra_state`` saved."""


def train(
    model: nn.Module,
    data: Iterable[Any],
    options: TrainOptions,
    hooks: Hooks,
    param_groups: list[dict[str, Any]] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` (the module whose state is checkpointed) for ``options.epochs`` passes
    over ``data``; returns one history entry per epoch: its mean ``loss`` and what
    ``hooks.end_epoch`` added. ``param_groups`` replaces the default single group of every
    trainable parameter."""
    if options.epochs == 0:
        return []
    torch.manual_seed(options.seed)
    optimizer = _optimizer(
        param_groups or [p for p in model.parameters() if p.requires_grad], options
    )
    per_epoch = len(data) if hasattr(data, "__len__") else None  # type: ignore[arg-type]
    steps = options.epochs * max(1, per_epoch) if per_epoch is not None else None
    schedule = None
    if steps and options.schedule == "cosine":
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
        )
    distributed = dist.is_available() and dist.is_initialized()
    net = (
        nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
        if distributed
        else model
    )
    inside = {id(p) for p in model.parameters()}
    outside = [  # trained beside the model (an input gate): DDP does not average these
        p for g in optimizer.param_groups for p in g["params"] if id(p) not in inside
    ]
    cuda = model_device(model).type == "cuda" and options.amp
    scaler = torch.amp.GradScaler("cuda") if cuda else None
    history: list[dict[str, float]] = []
    start = 0
    restored = (
        load_checkpoint(options.checkpoint_dir, model, optimizer)
        if options.checkpoint_dir
        else None
    )
    if restored is not None:
        extra, state = restored
        hooks.load_extra_state(extra)
        start, history = int(state["epoch"]) + 1, list(state["history"])
        if schedule is not None and per_epoch is not None:
            schedule.last_epoch = start * max(1, per_epoch)
    else:
        hooks.start()
    rank0 = not distributed or dist.get_rank() == 0
    for epoch in range(start, options.epochs):
        if options.reseed_epochs or options.checkpoint_dir or distributed:
            seed_epoch(data, options.seed, epoch)
        model.train()
        total, count = 0.0, 0
        desc = f"{options.desc} {epoch + 1}/{options.epochs}"
        for batch in tqdm(data, desc=desc, disable=not (options.progress and rank0)):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16) if cuda else nullcontext():
                loss = hooks.loss(net, batch)
            (loss if scaler is None else scaler.scale(loss)).backward()
            if distributed:
                _average_gradients(outside)
            hooks.after_backward()
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            hooks.after_step()
            if schedule is not None:
                schedule.step()
            total, count = total + float(loss.detach()), count + 1
        if distributed:  # DDP's last forward updated each rank's own batch-norm statistics
            for buffer in model.buffers():
                dist.broadcast(buffer, 0)
        entry = {"epoch": epoch, "loss": total / max(1, count)}
        entry.update(hooks.end_epoch(epoch))
        history.append(entry)
        if options.checkpoint_dir and rank0:
            state = {"epoch": epoch, "history": history}
            save_checkpoint(options.checkpoint_dir, model, optimizer, hooks.extra_state(), state)
    model.eval()
    return history


def _average_gradients(params: list[torch.Tensor]) -> None:
    world = dist.get_world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def _optimizer(params: Any, options: TrainOptions) -> torch.optim.Optimizer:
    if options.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=options.lr,
            momentum=options.momentum,
            weight_decay=options.weight_decay,
            nesterov=options.nesterov,
        )
    return torch.optim.AdamW(params, lr=options.lr, weight_decay=options.weight_decay)


def seed_epoch(data: Any, seed: int, epoch: int) -> None:
    """The same data order and random draws for an epoch whether or not the run resumed."""
    torch.manual_seed(seed * 100_003 + epoch)
    generator = getattr(data, "generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(seed * 100_003 + epoch)
    sampler = getattr(data, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
