from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import prunekit as pk


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    return torchvision.models.resnet18()


def test_resnet18_params_and_macs_match_reference(resnet18: nn.Module) -> None:
    metrics = pk.measure(resnet18, torch.randn(1, 3, 224, 224))
    assert metrics.params == 11_689_512
    assert metrics.macs == 1_814_073_344
    assert metrics.buffers == sum(b.numel() for b in resnet18.buffers())
    assert metrics.latency is None and metrics.latency_ms is None


def test_macs_scale_with_batch(resnet18: nn.Module) -> None:
    one = pk.measure(resnet18, torch.randn(1, 3, 64, 64)).macs
    four = pk.measure(resnet18, torch.randn(4, 3, 64, 64)).macs
    assert four == 4 * one


def test_ratio_against_original() -> None:
    big = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    small = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 5))
    x = torch.randn(2, 10)
    before, after = pk.measure(big, x), pk.measure(small, x)
    ratio = after.ratio(before)
    assert ratio.params == pytest.approx(after.params / before.params)
    assert ratio.macs == pytest.approx((10 * 10 + 10 * 5) / (10 * 20 + 20 * 5))
    assert ratio.latency is None and ratio.speedup is None


def test_latency_records_conditions() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
    metrics = pk.measure(model, torch.randn(3, 8), latency=True, threads=1, min_run_time=0.05)
    lat = metrics.latency
    assert lat is not None and lat.median_ms > 0
    assert (lat.threads, lat.batch_size, lat.device, lat.dtype) == (1, 3, "cpu", "float32")
    assert lat.repeats >= 1
    assert metrics.ratio(metrics).speedup == pytest.approx(1.0)


def test_measure_restores_modes_and_threads() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    model.train()
    model[2].eval()  # a mixed state must come back exactly
    threads = torch.get_num_threads()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    pk.measure(model, torch.randn(5, 4), latency=True, threads=1, min_run_time=0.02)
    assert [m.training for m in model.modules()] == [True, True, True, False]
    assert torch.get_num_threads() == threads
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key  # BN running stats untouched


def test_keyword_inputs() -> None:
    class TwoInputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(5, 2)

        def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
            return self.a(left) + self.b(right)

    model = TwoInputs()
    by_name = pk.measure(model, {"left": torch.randn(2, 3), "right": torch.randn(2, 5)})
    by_position = pk.measure(model, (torch.randn(2, 3), torch.randn(2, 5)))
    assert by_name.macs == by_position.macs == 2 * (3 * 2 + 5 * 2)


def test_wrong_input_shape_is_a_clear_error(resnet18: nn.Module) -> None:
    with pytest.raises(pk.InputError, match=r"\(1, 4, 32, 32\) float32"):
        pk.measure(resnet18, torch.randn(1, 4, 32, 32))
    with pytest.raises(pk.InputError, match="example_inputs must be"):
        pk.measure(resnet18, "not a tensor")  # type: ignore[arg-type]


def test_metrics_dict_round_trip() -> None:
    metrics = pk.measure(nn.Linear(3, 3), torch.randn(1, 3), latency=True, min_run_time=0.02)
    again = pk.Metrics.from_dict(metrics.to_dict())
    assert again == metrics
    assert "MACs" in str(metrics)


def test_macs_at_different_batch_sizes_are_not_compared() -> None:
    """MACs grow with the batch: a ratio of two measurements must use the same inputs."""
    model = nn.Sequential(nn.Linear(8, 4))
    one, two = pk.measure(model, torch.randn(1, 8)), pk.measure(model, torch.randn(2, 8))
    assert two.macs == 2 * one.macs and one.inputs == "((1, 8) float32)"
    with pytest.raises(pk.PrunekitError, match="batch 1 .* batch 2 .*same example inputs"):
        two.ratio(one)
    assert pk.Metrics.from_dict(one.to_dict()) == one


def _attention_macs(batch: int, heads: int, queries: int, keys: int, width: int) -> int:
    return 2 * batch * heads * queries * keys * width  # Q K^T and the weighted sum of V


def test_multihead_attention_fast_path_is_counted() -> None:
    # eval + no_grad takes nn.MultiheadAttention's fused fast path, which FlopCounterMode does
    # not see: the projections and the attention must still be counted
    layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True)
    x = torch.randn(2, 10, 32)
    tokens = 2 * 10
    linear = tokens * (32 * 3 * 32 + 32 * 32 + 32 * 64 + 64 * 32)
    assert pk.measure(layer, x).macs == linear + _attention_macs(2, 4, 10, 10, 8)
    assert torch.backends.mha.get_fastpath_enabled()  # restored after counting


def test_vit_b_16_macs_match_the_published_figure() -> None:
    # 17.56 GFLOPs in torchvision's model card counts multiply-accumulates
    vit = torchvision.models.vit_b_16()
    assert pk.measure(vit, torch.randn(1, 3, 224, 224)).macs == 17_563_828_224


def test_scaled_dot_product_attention_cpu_kernel_is_counted() -> None:
    class Attention(nn.Module):
        def forward(self, q: torch.Tensor) -> torch.Tensor:
            return nn.functional.scaled_dot_product_attention(q, q, q)

    q = torch.randn(2, 4, 10, 8)
    assert pk.measure(Attention(), q).macs == _attention_macs(2, 4, 10, 10, 8)
