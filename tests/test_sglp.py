"""SGLP pieces: CKA estimators, Fisher segmentation, allocation, GradNorm search, end to end."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import prunekit as pk
from prunekit.methods.sglp.cka import MinibatchCKA, cka, hsic
from prunekit.methods.sglp.gradnorm import best_removal
from prunekit.methods.sglp.method import greedy_order
from prunekit.methods.sglp.segment import choose_count, fisher_losses, segments
from prunekit.models.hf import save_pretrained
from tests.hf_tiny import inputs, tiny


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
def test_cka_of_a_representation_with_itself_and_its_transforms(estimator: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 20, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(20, 20, generator=g, dtype=torch.float64))
    assert cka(x, x, estimator) == pytest.approx(1.0, abs=1e-12)
    assert cka(x, x @ q, estimator) == pytest.approx(1.0, abs=1e-10)
    assert cka(x, 3.7 * x, estimator) == pytest.approx(1.0, abs=1e-12)


def test_unbiased_cka_of_independent_gaussians_is_near_zero() -> None:
    g = torch.Generator().manual_seed(1)
    acc = MinibatchCKA(2, "unbiased")
    for _ in range(10):
        acc.update([torch.randn(50, 200, generator=g), torch.randn(50, 200, generator=g)])
    assert abs(float(acc.matrix()[0, 1])) < 0.05
    biased = cka(torch.randn(50, 200, generator=g), torch.randn(50, 200, generator=g), "biased")
    assert biased > 0.5  # the biased estimator's known upward bias at d >> n


def test_unbiased_hsic_matches_the_defining_formula() -> None:
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(8, 3, generator=g).double(), torch.randn(8, 5, generator=g).double()
    k, m = x @ x.T, y @ y.T
    n = 8
    kt, mt = k - torch.diag(torch.diag(k)), m - torch.diag(torch.diag(m))
    expected = (
        torch.trace(kt @ mt)
        + kt.sum() * mt.sum() / ((n - 1) * (n - 2))
        - 2 / (n - 2) * (kt @ mt).sum()
    ) / (n * (n - 3))
    assert float(hsic(k, m)) == pytest.approx(float(expected), rel=1e-12)
    with pytest.raises(pk.InputError, match="at least 4"):
        hsic(k[:3, :3], m[:3, :3])


def _brute_force(points: torch.Tensor, count: int) -> float:
    n = len(points)
    best = math.inf
    for cuts in itertools.combinations(range(1, n), count - 1):
        edges = [0, *cuts, n]
        total = sum(
            float(((points[a:b] - points[a:b].mean(0)) ** 2).sum())
            for a, b in itertools.pairwise(edges)
        )
        best = min(best, total)
    return best


def test_fisher_segmentation_is_optimal_and_contiguous() -> None:
    points = torch.tensor([1.0, 1.1, 0.9, 5.0, 5.2, 9.0, 9.1, 8.8, 9.3, 2.0])[:, None]
    losses, _ = fisher_losses(points, 5)
    for k in range(1, 6):
        assert float(losses[k - 1]) == pytest.approx(_brute_force(points, k))
    bounds = segments(points, 4)
    assert bounds == [(0, 2), (3, 4), (5, 8), (9, 9)]
    assert choose_count(losses, 0.05) >= 3


def test_greedy_order_keeps_a_unit_per_segment_while_it_can() -> None:
    members = [["a"], ["b", "c", "d"], ["e", "f"]]
    value = {"a": 0.0, "b": 3.0, "c": 2.0, "d": 1.0, "e": 5.0, "f": 4.0}

    def score(removed: list[str]) -> float:  # removing low-value units is best
        return -sum(value[u] for u in removed)

    order = greedy_order(members, 6, score)
    assert order[:3] == ["d", "c", "f"]  # "a" is its segment's last unit: kept while possible
    assert sorted(order) == sorted(value)


def test_subset_search_exhaustive_and_greedy_agree_on_an_additive_score() -> None:
    value = {"a": 1.0, "b": 5.0, "c": 2.0, "d": 4.0}

    def score(removed: list[str]) -> float:  # keeping high values is best
        return sum(v for k, v in value.items() if k not in removed)

    exhaustive, _ = best_removal(list(value), 2, score, limit=100)
    greedy, _ = best_removal(list(value), 2, score, limit=1)
    assert sorted(exhaustive) == sorted(greedy) == ["a", "c"]


def _data() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(48, 3, 32, 32, generator=g), torch.randint(0, 4, (48,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=16)


def test_sglp_removes_half_the_blocks_of_a_resnet_and_reloads(tmp_path: Path) -> None:
    model = pk.zoo.model("resnet18", num_classes=4).eval()
    x = torch.randn(2, 3, 32, 32)
    config = pk.SGLPConfig(target=pk.Target(layers=0.5))
    result = pk.prune(model, config, example_inputs=x, train_data=_data(), val_data=_data())
    assert len(result.details["removed"]) == 4
    assert len(result.details["segments"]) >= 1
    flat = [p for s in result.details["segments"] for p in s]
    assert flat == result.details["units"]
    assert len(list(model.layer1)) == 2  # the caller's model is untouched
    pk.save(result, tmp_path)
    with torch.no_grad():
        assert torch.equal(pk.load(tmp_path)(x), result.model(x))


def test_sglp_on_a_tiny_llm_keeps_generation_and_save_pretrained(tmp_path: Path) -> None:
    model, x = tiny("llama"), inputs("llama", batch=4)
    data = [dict(x) for _ in range(3)]
    config = pk.SGLPConfig(target=pk.Target(layers=0.7), segments=2)
    result = pk.prune(model, config, example_inputs=x, train_data=data)
    pruned = result.model
    assert pruned.config.num_hidden_layers == 2 == len(pruned.model.layers)
    ids = x["input_ids"][:1]
    cached = pruned.generate(ids, max_new_tokens=4, do_sample=False, use_cache=True)
    assert torch.equal(
        cached, pruned.generate(ids, max_new_tokens=4, do_sample=False, use_cache=False)
    )
    save_pretrained(pruned, tmp_path)
    import transformers

    again = transformers.LlamaForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(again(**x).logits, pruned(**x).logits)


def test_sglp_needs_training_data_and_reachable_targets() -> None:
    model, x = pk.zoo.model("resnet18", num_classes=4), torch.randn(2, 3, 32, 32)
    with pytest.raises(pk.ConfigError, match="train_data"):
        pk.prune(model, pk.SGLPConfig(target=pk.Target(layers=0.5)), example_inputs=x)
    with pytest.raises(pk.ConfigError, match="can be"):
        pk.prune(
            model,
            pk.SGLPConfig(target=pk.Target(layers=0.1)),
            example_inputs=x,
            train_data=_data(),
        )
    with pytest.raises(pk.ConfigError, match="sequence"):
        pk.SGLPConfig(target=pk.Target(layers=0.5), sequence="diagonal")
