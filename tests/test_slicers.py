"""The layer table (core/edit/slicers.py): every layer type it lists slices to the kept channels
with outputs equal to the kept part of the original, and zeroing the readers (or producers) of
a channel is what removing it does."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from prunekit.core.edit.slicers import slicer_for, slicer_of
from prunekit.core.edit.surgery import dim_size, is_intra_coupled, slice_module
from prunekit.errors import PrunekitError

G = torch.Generator().manual_seed(0)
KEEP = [0, 2, 3, 5]  # of 6 channels

# layer, input of its full width (6 channels on axis 1, or last for the *-last layers)
LAYERS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "conv2d": (lambda: nn.Conv2d(6, 6, 3, padding=1), (2, 6, 5, 5)),
    "conv1d": (lambda: nn.Conv1d(6, 6, 3), (2, 6, 7)),
    "depthwise": (lambda: nn.Conv2d(6, 6, 3, groups=6), (2, 6, 5, 5)),
    "conv_transpose": (lambda: nn.ConvTranspose2d(6, 6, 2), (2, 6, 3, 3)),
    "linear": (lambda: nn.Linear(6, 6), (2, 6)),
    "batchnorm": (lambda: nn.BatchNorm2d(6), (2, 6, 3, 3)),
    "instancenorm": (lambda: nn.InstanceNorm1d(6, affine=True), (2, 6, 4)),
    "layernorm": (lambda: nn.LayerNorm(6), (2, 3, 6)),
    "rmsnorm": (lambda: nn.RMSNorm(6), (2, 3, 6)),
    "prelu": (lambda: nn.PReLU(6), (2, 6, 3)),
}
LAST_AXIS = {"linear", "layernorm", "rmsnorm"}


def _randomised(module: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=G))
        for name in ("running_mean", "running_var"):
            if getattr(module, name, None) is not None:
                getattr(module, name).copy_(torch.rand(6, generator=G) + 0.5)
    return module.eval()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_type_slices_to_its_kept_channels(name: str) -> None:
    factory, shape = LAYERS[name]
    module = _randomised(factory())
    slicer = slicer_of(module)
    axis = -1 if name in LAST_AXIS else 1
    assert dim_size(module, "out") == dim_size(module, "in") == 6
    x = torch.randn(shape, generator=G)
    index = torch.tensor(KEEP)
    zeroed = x.clone()
    zeroed.index_fill_(axis % x.dim(), torch.tensor([1, 4]), 0.0)
    with torch.no_grad():
        reference = module(zeroed)  # dropped input channels are zero
    coupled = is_intra_coupled(module)
    slice_module(module, name, KEEP, KEEP)
    with torch.no_grad():
        out = module(x.index_select(axis % x.dim(), index))
    assert dim_size(module, "out") == dim_size(module, "in") == len(KEEP)
    if slicer.normalising:  # LayerNorm/RMSNorm: statistics over the kept channels only
        assert out.shape[-1] == len(KEEP) and name in ("layernorm", "rmsnorm")
        return
    expected = reference.index_select(axis % reference.dim(), index)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert slicer.channel_axis(module) % out.dim() == axis % out.dim()
    assert coupled == (name not in {"conv2d", "conv1d", "conv_transpose", "linear"})


@pytest.mark.parametrize("name", ["conv2d", "conv1d", "conv_transpose", "linear"])
def test_zeroed_readers_ignore_their_channels(name: str) -> None:
    factory, shape = LAYERS[name]
    module = _randomised(factory())
    axis = -1 if name in LAST_AXIS else 1
    x = torch.randn(shape, generator=G)
    noisy = x.clone()
    noisy.index_fill_(axis % x.dim(), torch.tensor([1, 4]), 7.0)
    with torch.no_grad():
        slicer_of(module).zero_readers(module, [1, 4])
        torch.testing.assert_close(module(x), module(noisy))


def test_zeroed_producers_give_zero_channels() -> None:
    embedding = _randomised(nn.Embedding(10, 6))
    linear = _randomised(nn.Linear(4, 6))
    with torch.no_grad():
        for module in (embedding, linear):
            slicer_of(module).zero_producers(module, [1, 4])
        assert embedding(torch.arange(10))[:, [1, 4]].abs().sum() == 0
        assert linear(torch.randn(3, 4, generator=G))[:, [1, 4]].abs().sum() == 0


def test_heads_and_groups_set_the_channel_step() -> None:
    assert slicer_of(nn.MultiheadAttention(8, 4)).step(nn.MultiheadAttention(8, 4)) == 4
    assert slicer_of(nn.GroupNorm(3, 6)).step(nn.GroupNorm(3, 6)) == 3
    with pytest.raises(PrunekitError, match="GroupNorm with 3 groups cannot keep 4"):
        slice_module(nn.GroupNorm(3, 6), "norm", KEEP, KEEP)


def test_an_unknown_layer_is_named_with_the_fix() -> None:
    assert slicer_for(nn.ReLU()) is None
    with pytest.raises(PrunekitError, match=r"blocks\.0: .*ReLU.*fix: leave it out.*ignore="):
        slice_module(nn.ReLU(), "blocks.0", [0], [0])
