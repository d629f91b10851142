"""A small training run of one registered method that trains, launched as a separate process by
tests/test_resume.py: killed and resumed, and run under ``torchrun`` with gloo. Every rank
writes its pruned model's weights to ``{out}.{rank}``.

    python tests/method_run.py METHOD CHECKPOINT_DIR OUT EPOCHS   (CHECKPOINT_DIR "" for none)
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import prunekit as pk

Factory = Callable[[str | None, int], object]
# method name -> its config for a run of ``epochs`` with checkpoints in ``checkpoint``; every
# method the registry marks as training must have one (tests/test_resume.py checks it)
CONFIGS: dict[str, Factory] = {
    "adaptive": lambda checkpoint, epochs: pk.AdaptiveConfig(
        target=pk.Target(params=0.6),
        sparse_epochs=epochs,
        finetune_epochs=2,
        checkpoint_dir=checkpoint,
    ),
    "basis": lambda checkpoint, epochs: pk.BasisConfig(
        target=pk.Target(params=0.5), epochs=epochs, checkpoint_dir=checkpoint
    ),
    "double": lambda checkpoint, epochs: pk.DoubleConfig(
        channel=pk.ChannelConfig(target=pk.Target(params=0.8), importance="taylor"),
        basis=pk.BasisConfig(target=pk.Target(params=0.5), epochs=epochs),
        checkpoint_dir=checkpoint,
    ),
    "features": lambda checkpoint, epochs: pk.FeatureConfig(
        target=pk.Target(features=0.5),
        hidden=0.25,
        criterion="taylor",
        epochs=epochs,
        checkpoint_dir=checkpoint,
    ),
    "sfp": lambda checkpoint, epochs: pk.SFPConfig(
        rate=0.5, epochs=epochs, lr=0.02, checkpoint_dir=checkpoint
    ),
    "crsfp": lambda checkpoint, epochs: pk.CRSFPConfig(
        rate=0.5, epochs=epochs, lr=0.02, checkpoint_dir=checkpoint
    ),
}


def main(method: str, checkpoint: str, out: str, epochs: int) -> None:
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(512, 1, 24, generator=g), torch.randint(0, 3, (512,), generator=g)
    if method == "features":  # tabular: an MLP reading 24 features
        x = x.flatten(1)
        model = pk.zoo.model("mlp", inputs=24, num_classes=3, hidden=(32, 16))
    else:
        model = pk.zoo.model("small_resnet", dims=1, num_classes=3, blocks=2, width=16)
    data = TensorDataset(x, y)
    if distributed:
        loader = DataLoader(data, batch_size=32, sampler=DistributedSampler(data, seed=0))
    else:
        loader = DataLoader(data, batch_size=32, shuffle=True, generator=torch.Generator())
    config = CONFIGS[method](checkpoint or None, epochs)
    if distributed and method == "sfp":  # a target: rank 0 chooses the rate, the others receive it
        config = dataclasses.replace(config, rate=None, target=pk.Target(params=0.6))
    result = pk.prune(model, config, example_inputs=x[:2], train_data=loader)
    rank = dist.get_rank() if distributed else 0
    state = {k: v.contiguous() for k, v in result.model.state_dict().items()}
    save_file(state, f"{out}.{rank}")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
