"""A small SFP/CR-SFP training run, launched as a separate process by tests/test_sfp.py
(to kill and resume it, and to run it under torchrun with gloo)."""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import prunekit as pk


def main(checkpoint: str, out: str, epochs: int, method: str) -> None:
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(512, 1, 24, generator=g), torch.randint(0, 3, (512,), generator=g)
    data = TensorDataset(x, y)
    if distributed:
        loader = DataLoader(data, batch_size=32, sampler=DistributedSampler(data, seed=0))
    else:
        loader = DataLoader(data, batch_size=32, shuffle=True, generator=torch.Generator())
    model = pk.zoo.model("small_resnet", dims=1, num_classes=3, blocks=2, width=16)
    cls = pk.CRSFPConfig if method == "crsfp" else pk.SFPConfig
    config = cls(rate=0.5, epochs=epochs, lr=0.02, checkpoint_dir=checkpoint or None)
    result = pk.prune(model, config, example_inputs=x[:2], train_data=loader)
    rank = dist.get_rank() if distributed else 0
    state = {k: v.contiguous() for k, v in result.model.state_dict().items()}
    save_file(state, f"{out}.{rank}")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
