"""Hugging Face models (tiny random configs, no download): the zoo invariant, head pruning that
keeps the config true, save_pretrained round trips, and transformer layer removal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import prunekit as pk
from prunekit.core.analysis.heads import counts, find_heads
from prunekit.core.edit.layers import drop_layers, layer_lists
from prunekit.core.edit.plan import Plan
from prunekit.models.hf import save_pretrained
from tests.hf_tiny import CONFIGS, inputs, tiny
from tests.zoo_check import assert_sound, check_model

transformers = pytest.importorskip("transformers")


def run(model: nn.Module, x: Any) -> torch.Tensor:
    with torch.no_grad():
        out = model(**x) if isinstance(x, dict) else model(x)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


def half(name: str) -> pk.PruneResult:
    config = pk.ChannelConfig(
        target=pk.Target(params=0.6), importance="l2", round_to=1, scope="local"
    )
    return pk.prune(tiny(name), config, example_inputs=inputs(name))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_hf_model_keeps_the_invariant(name: str, tmp_path: Path) -> None:
    report = check_model(tiny(name), inputs(name), tmp_path / "run")
    assert_sound(report)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_attention_module_is_found_with_its_heads(name: str) -> None:
    model = tiny(name)
    specs = find_heads(model)
    assert len(specs) == model.config.num_hidden_layers
    kv = getattr(model.config, "num_key_value_heads", model.config.num_attention_heads)
    assert {counts(model, s) for s in specs} == {(model.config.num_attention_heads, kv)}


@pytest.mark.parametrize("name", ["llama", "qwen2", "vit"])
def test_pruned_heads_update_the_config_and_save_pretrained_round_trips(
    name: str, tmp_path: Path
) -> None:
    result = half(name)
    model, config = result.model, result.model.config
    heads = {counts(model, s) for s in find_heads(model)}
    assert heads == {
        (
            config.num_attention_heads,
            getattr(config, "num_key_value_heads", None) or config.num_attention_heads,
        )
    }
    assert config.num_attention_heads < 4
    save_pretrained(model, tmp_path)
    cls = getattr(transformers, CONFIGS[name][0])
    reloaded = cls.from_pretrained(tmp_path).eval()
    assert torch.equal(run(reloaded, inputs(name)), run(model, inputs(name)))


def test_pruned_llm_generates_the_same_with_and_without_kv_cache() -> None:
    model = half("llama").model
    ids = inputs("llama")["input_ids"][:1]
    cached = model.generate(ids, max_new_tokens=6, do_sample=False, use_cache=True)
    plain = model.generate(ids, max_new_tokens=6, do_sample=False, use_cache=False)
    assert cached.shape == (1, 18) and torch.equal(cached, plain)


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_save_pretrained_refuses_shapes_its_config_cannot_express(
    name: str, tmp_path: Path
) -> None:
    with pytest.raises(pk.PrunekitError, match="cannot (express|describe)"):
        save_pretrained(half(name).model, tmp_path)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_pk_save_load_round_trips_pruned_hf_models(name: str, tmp_path: Path) -> None:
    result = half(name)
    pk.save(result, tmp_path)
    loaded = pk.load(tmp_path)
    assert torch.equal(run(loaded, inputs(name)), run(result.model, inputs(name)))
    assert loaded.config.num_attention_heads == result.model.config.num_attention_heads


@pytest.mark.parametrize("name", ["llama", "qwen2", "gpt2"])
def test_removed_transformer_layers_renumber_and_generate(name: str, tmp_path: Path) -> None:
    model = tiny(name)
    x = inputs(name)
    path = layer_lists(model)[0]
    before = len(model.get_submodule(path))
    plan = Plan([drop_layers(model, path, [0], x)])
    plan.apply(model)
    layers = model.get_submodule(path)
    assert len(layers) == before - 1 == model.config.num_hidden_layers
    idx = [m.layer_idx for layer in layers for m in layer.modules() if hasattr(m, "layer_idx")]
    assert sorted(set(idx)) == list(range(len(layers)))
    types = getattr(model.config, "layer_types", None)
    assert types is None or len(types) == len(layers)
    ids = x["input_ids"][:1]
    cached = model.generate(ids, max_new_tokens=5, do_sample=False, use_cache=True)
    assert torch.equal(
        cached, model.generate(ids, max_new_tokens=5, do_sample=False, use_cache=False)
    )
    pk.save(model, tmp_path, plan=plan)
    assert torch.equal(run(pk.load(tmp_path), x), run(model, x))


def test_drop_layers_refuses_bad_requests() -> None:
    model, x = tiny("llama"), inputs("llama")
    with pytest.raises(pk.PrunekitError, match="leave at least one"):
        drop_layers(model, "model.layers", [0, 1, 2], x)
    with pytest.raises(pk.PrunekitError, match="in range"):
        drop_layers(model, "model.layers", [7], x)
    with pytest.raises(pk.PrunekitError, match="ModuleList or Sequential"):
        drop_layers(model, "model.norm", [0], x)
