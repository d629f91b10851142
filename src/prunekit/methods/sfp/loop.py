"""The SFP / CR-SFP training loop: cosine SGD, masks every epoch, per-epoch R-NN/P-NN accuracy
gap, a checkpoint every epoch (resume gives the same weights), DDP when torch.distributed is
initialised, mixed precision on CUDA."""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from prunekit.core.batches import to_device
from prunekit.core.inputs import model_device
from prunekit.methods.sfp.augment import shift_and_noise
from prunekit.methods.sfp.config import CRSFPConfig, SFPConfig
from prunekit.methods.sfp.heads import TwoHeads
from prunekit.methods.sfp.masks import GroupMasks
from prunekit.methods.sfp.recalibrate import recalibrated
from prunekit.train.checkpoint import load_checkpoint, save_checkpoint
from prunekit.train.loop import seed_epoch


def _consistency(p: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """1/2 [KL(sg(p_R) || p_P) + KL(sg(p_P) || p_R)], batch mean."""
    log_p, log_r = F.log_softmax(p, -1), F.log_softmax(r, -1)
    kl_pr = F.kl_div(log_p, log_r.detach(), log_target=True, reduction="batchmean")
    kl_rp = F.kl_div(log_r, log_p.detach(), log_target=True, reduction="batchmean")
    return 0.5 * (kl_pr + kl_rp)


def _step_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor, config: SFPConfig) -> torch.Tensor:
    if not isinstance(config, CRSFPConfig):
        return F.cross_entropy(net(x), y)
    augment = config.augment or shift_and_noise
    v1, v2 = augment(x), augment(x)
    p, r = net(v1, v2)
    loss = F.cross_entropy(p, y) + F.cross_entropy(r, y) + config.alpha * _consistency(p, r)
    if config.symmetric:
        p2, r2 = net(v2, v1)
        swapped = F.cross_entropy(p2, y) + F.cross_entropy(r2, y)
        loss = 0.5 * (loss + swapped + config.alpha * _consistency(p2, r2))
    return loss


@torch.no_grad()
def _accuracy(fn: Any, data: Iterable[Any], device: torch.device) -> float:
    correct = total = 0
    for batch in data:
        x, y = to_device(batch[0], device), to_device(batch[1], device)
        correct += int((fn(x).argmax(-1) == y).sum())
        total += int(y.numel())
    return correct / max(1, total)


def train(
    heads: TwoHeads,
    masks: GroupMasks,
    config: SFPConfig,
    train_data: Iterable[Any],
    val_data: Iterable[Any] | None,
) -> list[dict[str, float]]:
    device = model_device(heads.model)
    distributed = dist.is_available() and dist.is_initialized()
    net: nn.Module = heads
    if distributed:
        net = nn.parallel.DistributedDataParallel(heads, find_unused_parameters=True)
    optimizer = torch.optim.SGD(
        heads.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        nesterov=config.nesterov,
    )
    cuda = device.type == "cuda" and config.amp
    scaler = torch.amp.GradScaler("cuda") if cuda else None
    steps_per_epoch = len(train_data)  # type: ignore[arg-type]
    total = config.epochs * steps_per_epoch
    history: list[dict[str, float]] = []
    start = 0
    restored = (
        load_checkpoint(config.checkpoint_dir, heads, optimizer) if config.checkpoint_dir else None
    )
    if restored is not None:
        extra, state = restored
        masks.masks = [extra[f"mask.{i}"].float() for i in range(len(masks.groups))]
        start, history = int(state["epoch"]) + 1, list(state["history"])
    else:  # masks from the start; weights are first zeroed after epoch 1, once the norms'
        # shifts have trained (a zeroed filter behind a zero shift and a ReLU gets no gradient)
        masks.update(heads.model, config.criterion)
    rank0 = not distributed or dist.get_rank() == 0
    for epoch in range(start, config.epochs):
        heads.train()
        seed_epoch(train_data, config.seed, epoch)
        running = 0.0
        bar = tqdm(
            train_data,
            desc=f"{type(config).__name__} epoch {epoch + 1}/{config.epochs}",
            disable=not (config.progress and rank0),
        )
        for i, batch in enumerate(bar):
            step = epoch * steps_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = 0.5 * config.lr * (1 + math.cos(math.pi * step / total))
            x, y = to_device(batch[0], device), to_device(batch[1], device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16) if cuda else nullcontext():
                loss = _step_loss(net, x, y, config)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            running += float(loss.detach())
        heads.eval()
        eval_data = val_data if val_data is not None else train_data
        r_net = heads.with_model(recalibrated(heads.model, None, train_data))
        r_acc = _accuracy(r_net.reconstructed, eval_data, device)
        masks.update(heads.model, config.criterion, stats=r_net.model)
        masks.zero_weights(heads.model)
        pruned = recalibrated(heads.model, masks, train_data)
        with masks.applied(pruned):
            p_acc = _accuracy(pruned, eval_data, device)
        history.append(
            {
                "epoch": epoch,
                "loss": running / max(1, steps_per_epoch),
                "r_accuracy": r_acc,
                "p_accuracy": p_acc,
                "gap": r_acc - p_acc,
            }
        )
        if config.checkpoint_dir and rank0:
            extra = {f"mask.{i}": m for i, m in enumerate(masks.masks)}
            save_checkpoint(
                config.checkpoint_dir, heads, optimizer, extra, {"epoch": epoch, "history": history}
            )
    return history
