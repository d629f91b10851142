"""prunekit llm: layer-sequential scores equal whole-model scores, the streamed checkpoint loads
with stock from_pretrained and matches the in-memory model, resumption, and clear errors."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from prunekit.core.budget.target import Target
from prunekit.errors import ConfigError, InputError, PrunekitError
from prunekit.llm import Checkpoint, LLMOptions, LLMPlan, prune_llm
from prunekit.llm.passes import Resume, run_pass
from prunekit.llm.scores import Scores
from prunekit.llm.stream import LayerStream
from prunekit.llm.write import write_pruned
from tests.llm_tiny import FAMILIES, write_tiny

pytest.importorskip("transformers")
from transformers import AutoModelForCausalLM

TOKENS = torch.Generator().manual_seed(3)
CALIBRATION = [torch.randint(0, 128, (4, 16), generator=TOKENS) for _ in range(2)]
HELDOUT = [torch.randint(0, 128, (4, 16), generator=TOKENS)]
QUICK = {"samples": 8, "heldout": 4, "seq_len": 32, "batch_size": 4, "progress": False}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, object]]:
    root = tmp_path_factory.mktemp("llm")
    return {family: (root / family, write_tiny(root / family, family)) for family in FAMILIES}


def _whole_model_scores(model: torch.nn.Module, run_length: int) -> Scores:
    """The same Scores, fed by one ordinary forward of the whole model per batch."""
    layers = model.model.layers
    scores = Scores(len(layers), model.config.num_attention_heads, run_length, len(CALIBRATION))
    for b, tokens in enumerate(CALIBRATION):
        seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        handles = []
        for i, layer in enumerate(layers):
            handles += scores.width_hooks(i, layer)
            handles.append(
                layer.register_forward_hook(
                    lambda m, a, k, y, i=i, seen=seen: seen.__setitem__(
                        i, (k.get("hidden_states", a[0] if a else None), y)
                    ),
                    with_kwargs=True,
                )
            )
        with torch.no_grad():
            model(input_ids=tokens, use_cache=False)
        for handle in handles:
            handle.remove()
        for i in range(len(layers)):
            x, y = seen[i]
            scores.observe(i, b, x, y[0] if isinstance(y, tuple) else y)
    return scores


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sequential_scores_equal_whole_model_scores(checkpoints, family: str) -> None:
    directory, model = checkpoints[family]
    with Checkpoint(directory) as checkpoint:
        streamed = Scores(checkpoint.layers, model.config.num_attention_heads, 2, len(CALIBRATION))
        _, perplexity = run_pass(
            LayerStream(checkpoint, "cpu", torch.float32), CALIBRATION, HELDOUT, streamed
        )
    whole = _whole_model_scores(model, 2)
    torch.testing.assert_close(streamed.block_influence, whole.block_influence)
    torch.testing.assert_close(streamed.angular, whole.angular)
    torch.testing.assert_close(streamed.cka(), whole.cka())
    for i in range(model.config.num_hidden_layers):
        torch.testing.assert_close(streamed.head_scores(i), whole.head_scores(i))
        torch.testing.assert_close(streamed.neuron_scores(i), whole.neuron_scores(i))
    torch.testing.assert_close(streamed.hidden_scores(), whole.hidden_scores())
    with torch.no_grad():
        loss = model(input_ids=HELDOUT[0], labels=HELDOUT[0]).loss
    assert perplexity == pytest.approx(float(torch.exp(loss)), rel=1e-5)
    assert float(streamed.block_influence.min()) > 0  # the layers do something


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gemma2", "qwen2", "phi3"])
def test_removed_layers_match_the_in_memory_model(checkpoints, family: str, tmp_path) -> None:
    """Depth: the written checkpoint, through stock from_pretrained, gives the in-memory model
    with the same layers deleted (layer types follow: Gemma2 alternates sliding windows)."""
    directory, model = checkpoints[family]
    kept = (0, 2, 3, 5)
    with Checkpoint(directory) as checkpoint:
        write_pruned(checkpoint, LLMPlan(kept), tmp_path / "out")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    assert loaded.config.num_hidden_layers == 4
    types = getattr(model.config, "layer_types", None)
    if types is not None:
        assert loaded.config.layer_types == [types[i] for i in kept]
    reference = AutoModelForCausalLM.from_pretrained(directory).eval()
    reference.model.layers = torch.nn.ModuleList(reference.model.layers[i] for i in kept)
    reference.config.num_hidden_layers = 4
    if types is not None:
        reference.config.layer_types = [types[i] for i in kept]
    for i, layer in enumerate(reference.model.layers):
        layer.self_attn.layer_idx = i
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(input_ids=HELDOUT[0]).logits, reference(input_ids=HELDOUT[0]).logits
        )


@pytest.mark.slow
@pytest.mark.parametrize("family", ["llama", "qwen2", "phi3", "gemma2"])
def test_removed_heads_and_neurons_equal_zeroed_ones(checkpoints, family: str, tmp_path) -> None:
    """Width: removing key/value groups and MLP neurons gives the outputs of the original with
    their weights zeroed (the zoo-wide invariant, on the streamed path; fused Phi-3 too)."""
    directory, model = checkpoints[family]
    config = model.config
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    group, head_dim = heads // kv, model.model.layers[0].self_attn.head_dim
    keep_kv = tuple(range(kv // 2, kv)) if kv > 1 else (0,)
    keep_q = tuple(k * group + j for k in keep_kv for j in range(group))
    neurons = tuple(range(0, config.intermediate_size, 2))
    layers = range(config.num_hidden_layers)
    plan = LLMPlan(
        tuple(layers),
        dict.fromkeys(layers, keep_q),
        dict.fromkeys(layers, keep_kv),
        dict.fromkeys(layers, neurons),
    )
    with Checkpoint(directory) as checkpoint:
        write_pruned(checkpoint, plan, tmp_path / "out")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    assert loaded.config.num_attention_heads == len(keep_q)
    assert loaded.config.intermediate_size == len(neurons)
    zeroed = AutoModelForCausalLM.from_pretrained(directory).eval()
    with torch.no_grad():
        for layer in zeroed.model.layers:
            dropped_q = [h for h in range(heads) if h not in keep_q]
            for h in dropped_q:
                layer.self_attn.o_proj.weight[:, h * head_dim : (h + 1) * head_dim] = 0
            dropped = [n for n in range(config.intermediate_size) if n not in neurons]
            layer.mlp.down_proj.weight[:, dropped] = 0
        torch.testing.assert_close(
            loaded(input_ids=HELDOUT[0]).logits,
            zeroed(input_ids=HELDOUT[0]).logits,
            rtol=1e-4,
            atol=1e-5,
        )


@pytest.mark.slow
def test_tied_embeddings_stay_tied(tmp_path) -> None:
    write_tiny(tmp_path / "tied", "llama", tie_word_embeddings=True)
    report = prune_llm(
        tmp_path / "tied",
        tmp_path / "out",
        LLMOptions(method="width", target=Target(params=0.6), **QUICK),
    )
    with Checkpoint(tmp_path / "out") as written:
        assert "lm_head.weight" not in written.names
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert loaded.lm_head.weight.data_ptr() == loaded.model.embed_tokens.weight.data_ptr()
    assert report["params"]["after"] == sum(p.numel() for p in loaded.parameters())
    assert report["params"]["after"] <= 0.6 * report["params"]["before"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["block_influence", "angular", "sglp", "last", "width"])
def test_each_method_writes_a_checkpoint_whose_numbers_remeasure(checkpoints, method, tmp_path):
    directory, _ = checkpoints["qwen3"]
    target = Target(params=0.7) if method == "width" else Target(layers=0.5)
    report = prune_llm(
        directory, tmp_path / "out", LLMOptions(method=method, target=target, **QUICK)
    )
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert report["params"]["after"] == sum(p.numel() for p in loaded.parameters())
    assert loaded.config.num_hidden_layers == report["layers"]["after"]
    if method != "width":
        assert report["layers"]["after"] == 3
    assert (tmp_path / "out" / "prunekit-llm.md").is_file()
    assert (tmp_path / "out" / "prunekit-llm-cka.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "out" / "prunekit-llm.json").read_text())
    assert saved["perplexity"] == report["perplexity"]


def test_interrupted_pass_resumes_to_the_same_result(checkpoints, tmp_path) -> None:
    directory, model = checkpoints["llama"]
    resume = Resume(tmp_path / "work", {"run": 1}, every_s=0.0)

    def stop_at_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    def scores() -> Scores:
        return Scores(6, model.config.num_attention_heads, 2, len(CALIBRATION))

    with Checkpoint(directory) as checkpoint:
        stream = LayerStream(checkpoint, "cpu", torch.float32)
        first = scores()
        with pytest.raises(KeyboardInterrupt):
            run_pass(stream, CALIBRATION, HELDOUT, first, resume, stop_at_three)
        resumed = scores()
        seen: list[int] = []
        _, ppl = run_pass(
            stream, CALIBRATION, HELDOUT, resumed, resume, lambda d, t: seen.append(d)
        )
        straight = scores()
        _, expected = run_pass(stream, CALIBRATION, HELDOUT, straight)
    assert seen == [4, 5, 6]  # layers 1-3 were not run again
    assert ppl == pytest.approx(expected, rel=1e-9)
    torch.testing.assert_close(resumed.block_influence, straight.block_influence)
    torch.testing.assert_close(resumed.angular, straight.angular)
    torch.testing.assert_close(resumed.cka(), straight.cka())
    torch.testing.assert_close(resumed.hidden_scores(), straight.hidden_scores())


@pytest.mark.slow
def test_cli_end_to_end_in_a_fresh_process(checkpoints, tmp_path) -> None:
    """Prune, write, heal two steps, report; the reported perplexities measure again from the
    files: the pruned checkpoint's before healing, the healed one's after."""
    directory, _ = checkpoints["mistral"]
    out = tmp_path / "pruned"
    command = [
        sys.executable, "-m", "prunekit.cli", "llm", str(directory), "--out", str(out),
        "--method", "angular", "--target", "layers=0.67", "--samples", "8", "--seq-len", "32",
        "--batch-size", "4", "--heal-steps", "2", "--heal-lr", "1e-3", "--quiet",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "6 -> 4 layers" in done.stdout and "healed" in done.stdout
    report = json.loads((out / "prunekit-llm.json").read_text())
    assert len(report["healing"]["loss"]) == 2
    assert (out / "prunekit-llm.md").read_text().count("healing steps") == 1
    from prunekit.llm.tokens import read_text, token_sets

    tokens = token_sets(read_text("text"), out, 128, 8, 4, 32, 4)
    with Checkpoint(out) as written:
        _, ppl = run_pass(LayerStream(written, "cpu", torch.float32), [], tokens.heldout, None)
    assert ppl == pytest.approx(report["perplexity"]["after_healing"], rel=1e-6)
    assert ppl != pytest.approx(report["perplexity"]["after"], rel=1e-6)


def test_bad_inputs_are_clear_errors(checkpoints, tmp_path) -> None:
    directory, _ = checkpoints["llama"]
    with pytest.raises(InputError, match="not a directory"):
        Checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        Checkpoint(tmp_path / "empty")
    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(InputError, match="'gpt2' is not supported.*supported: gemma2, llama"):
        Checkpoint(tmp_path / "gpt2")
    with pytest.raises(InputError, match="calibration text has .* tokens"):
        prune_llm(directory, tmp_path / "o", LLMOptions(samples=496, seq_len=512, progress=False))
    with pytest.raises(ConfigError, match="removes all 6 decoder layers"):
        prune_llm(directory, tmp_path / "o", LLMOptions(target=Target(layers=0.1), progress=False))
    with pytest.raises(PrunekitError, match="is or contains the input"):
        prune_llm(directory, directory, LLMOptions(progress=False))
    with pytest.raises(PrunekitError, match="is or contains the input"):
        prune_llm(directory, directory.parent, LLMOptions(progress=False))
    with pytest.raises(ConfigError, match="not a multiple of --batch-size"):
        LLMOptions(samples=9, batch_size=8)
    with pytest.raises(ConfigError, match="width keeps every layer"):
        LLMOptions(method="width", target=Target(layers=0.5))
    with pytest.raises(ConfigError, match="one target"):
        LLMOptions(target=Target(macs=0.5))
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "notes.txt").write_text("mine")
    with pytest.raises(PrunekitError, match="refusing to replace it"):
        prune_llm(
            directory,
            tmp_path / "user",
            LLMOptions(progress=False, **{k: v for k, v in QUICK.items() if k != "progress"}),
        )
    assert (tmp_path / "user" / "notes.txt").read_text() == "mine"


def test_a_full_disk_leaves_the_previous_output_intact(checkpoints, tmp_path, monkeypatch):
    directory, _ = checkpoints["llama"]
    out = tmp_path / "out"
    with Checkpoint(directory) as checkpoint:
        write_pruned(checkpoint, LLMPlan((0, 1, 2, 3)), out)
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        import prunekit.llm.write as write

        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(write, "write_shard", full)
        with pytest.raises(PrunekitError, match="disk filled.*intact"):
            write_pruned(checkpoint, LLMPlan((0, 1)), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no partial folder left


@pytest.mark.slow
def test_shards_written_tensor_by_tensor_load_everywhere(checkpoints, tmp_path) -> None:
    """Small shards (one tensor in memory at a time): safetensors reads every tensor back,
    from_pretrained gives the same outputs as from one shard."""
    from safetensors.torch import load_file

    directory, _ = checkpoints["qwen2"]
    plan = LLMPlan((0, 1, 4))
    with Checkpoint(directory) as checkpoint:
        write_pruned(checkpoint, plan, tmp_path / "many", shard_bytes=40_000)
        write_pruned(checkpoint, plan, tmp_path / "one")
        expected = {
            f"model.layers.{plan.layers.index(4)}.mlp.down_proj.weight": checkpoint.tensor(
                "model.layers.4.mlp.down_proj.weight"
            )
        }
    files = sorted((tmp_path / "many").glob("*.safetensors"))
    assert len(files) > 3
    everything = {k: v for f in files for k, v in load_file(f).items()}
    for name, tensor in expected.items():
        torch.testing.assert_close(everything[name], tensor)
    many = AutoModelForCausalLM.from_pretrained(tmp_path / "many").eval()
    one = AutoModelForCausalLM.from_pretrained(tmp_path / "one").eval()
    with torch.no_grad():
        torch.testing.assert_close(many(HELDOUT[0]).logits, one(HELDOUT[0]).logits)


def test_a_config_transformers_refuses_stops_before_writing(tmp_path) -> None:
    """Phi-3 long-context rope factors are checked against hidden_size / heads: a width plan
    breaking that is refused with the reason before any file is written."""
    factors = [1.0] * 8  # head_dim 16 / 2
    write_tiny(tmp_path / "phi3", "phi3", rope_scaling={
        "rope_type": "longrope", "short_factor": factors, "long_factor": factors},
        original_max_position_embeddings=64)  # fmt: skip
    layers = range(6)
    plan = LLMPlan(
        tuple(layers), dict.fromkeys(layers, (0, 1)), dict.fromkeys(layers, (0, 1)),
        None, tuple(range(48)),
    )  # fmt: skip
    with (
        Checkpoint(tmp_path / "phi3") as checkpoint,
        pytest.raises(PrunekitError, match="transformers refuses the pruned config"),
    ):
        write_pruned(checkpoint, plan, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["phi3"]


def test_width_keeps_gemma2_hidden_size(checkpoints, tmp_path) -> None:
    """Gemma2 scales its tied embedding by sqrt(hidden_size): width pruning leaves it."""
    directory, model = checkpoints["gemma2"]
    prune_llm(directory, tmp_path / "out", LLMOptions(method="width", target=Target(params=0.8),
              **QUICK))  # fmt: skip
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["hidden_size"] == model.config.hidden_size
    assert config["intermediate_size"] < model.config.intermediate_size
