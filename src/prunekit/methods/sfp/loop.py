"""SFP / CR-SFP training on the shared loop (prunekit.train.engine: cosine SGD, a checkpoint
every epoch whose resume gives the same weights, DDP when torch.distributed is initialised,
mixed precision on CUDA): the two-head loss, masks every epoch, the R-NN/P-NN accuracy gap."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from prunekit.core.model.batches import to_device
from prunekit.core.model.inputs import model_device
from prunekit.methods.sfp.augment import shift_and_noise
from prunekit.methods.sfp.config import CRSFPConfig, SFPConfig
from prunekit.methods.sfp.heads import TwoHeads
from prunekit.methods.sfp.masks import GroupMasks
from prunekit.methods.sfp.recalibrate import recalibrated
from prunekit.train.engine import Hooks, TrainOptions
from prunekit.train.engine import train as engine_train


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


class _SFPHooks(Hooks):
    """SFP / CR-SFP on the shared loop: the (two-head) loss, masks from the start (weights are
    first zeroed after epoch 1, once the norms' shifts have trained: a zeroed filter behind a
    zero shift and a ReLU gets no gradient), and after every epoch the R-NN and P-NN accuracy
    (each with its own batch-norm statistics), new masks and the masked weights zeroed."""

    def __init__(
        self,
        heads: TwoHeads,
        masks: GroupMasks,
        config: SFPConfig,
        train_data: Iterable[Any],
        val_data: Iterable[Any] | None,
    ) -> None:
        self.heads, self.masks, self.config = heads, masks, config
        self.train_data, self.eval_data = (
            train_data,
            val_data if val_data is not None else train_data,
        )
        self.device = model_device(heads.model)

    def loss(self, net: nn.Module, batch: Any) -> torch.Tensor:
        x, y = to_device(batch[0], self.device), to_device(batch[1], self.device)
        return _step_loss(net, x, y, self.config)

    def start(self) -> None:
        self.masks.update(self.heads.model, self.config.criterion)

    def end_epoch(self, epoch: int) -> dict[str, float]:
        heads, masks = self.heads, self.masks
        heads.eval()
        r_net = heads.with_model(recalibrated(heads.model, None, self.train_data))
        r_acc = _accuracy(r_net.reconstructed, self.eval_data, self.device)
        masks.update(heads.model, self.config.criterion, stats=r_net.model)
        masks.zero_weights(heads.model)
        pruned = recalibrated(heads.model, masks, self.train_data)
        with masks.applied(pruned):
            p_acc = _accuracy(pruned, self.eval_data, self.device)
        return {"r_accuracy": r_acc, "p_accuracy": p_acc, "gap": r_acc - p_acc}

    def extra_state(self) -> dict[str, torch.Tensor]:
        return {f"mask.{i}": m for i, m in enumerate(self.masks.masks)}

    def load_extra_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.masks.masks = [tensors[f"mask.{i}"].float() for i in range(len(self.masks.groups))]


def train(
    heads: TwoHeads,
    masks: GroupMasks,
    config: SFPConfig,
    train_data: Iterable[Any],
    val_data: Iterable[Any] | None,
) -> list[dict[str, float]]:
    """Cosine SGD over ``heads`` (``prunekit.train.engine``), reseeded every epoch."""
    options = TrainOptions(
        epochs=config.epochs,
        lr=config.lr,
        weight_decay=config.weight_decay,
        optimizer="sgd",
        momentum=config.momentum,
        nesterov=config.nesterov,
        seed=config.seed,
        progress=config.progress,
        checkpoint_dir=config.checkpoint_dir,
        amp=config.amp,
        reseed_epochs=True,
        desc=f"{type(config).__name__} epoch",
    )
    hooks = _SFPHooks(heads, masks, config, train_data, val_data)
    return engine_train(heads, train_data, options, hooks)
