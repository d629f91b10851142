"""Large models: prunekit llm's memory and time against model size and depth (issue 21).

    .venv/bin/python benchmarks/large.py [--sizes 125m 1.1b 7b] [--depths 6 12 24 48]
        [--cache ~/.cache/prunekit-large] [--out benchmarks/results]

Random-weight checkpoints with the LLaMA architecture (bfloat16 safetensors, one shard per
decoder layer) are written into the git-ignored cache folder, streaming: one layer in memory at
a time. Each point runs in a fresh process:

- ``prunekit``: ``prunekit llm DIR --out OUT --method block_influence --target layers=0.75
  --samples 8 --heldout 4 --seq-len 128 --batch-size 8 --dtype float32 --quiet``: one
  layer-sequential pass scoring Block Influence, angular distance, CKA and width importance,
  the pruned checkpoint written, and its perplexity measured from the written files; peak
  resident memory of the whole command (ru_maxrss) and its wall time.
- ``shortgpt`` (the anchor, where the model fits): a ShortGPT-style script:
  ``AutoModelForCausalLM.from_pretrained(DIR, dtype=float32)``, one forward of the same 8
  sequences with ``output_hidden_states=True``, Block Influence per layer; its peak memory and
  time. Where it does not fit, the memory it would need: the float32 weights.

Peak memory is each command's own high-water mark (VmHWM), not ru_maxrss, which would include
this script's resident memory at the fork (it holds a layer while writing the checkpoints).

The depth sweep keeps the 125m width (768 hidden, 2048 MLP) and changes only the layer count,
so memory against depth shows what streaming promises: flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from machine import machine

RESULTS = Path(__file__).parent / "results"
CACHE = Path(os.environ.get("PRUNEKIT_CACHE", Path.home() / ".cache" / "prunekit-large"))
SIZES = {  # name: hidden, MLP, layers, heads, key/value heads (vocabulary 32000)
    "125m": (768, 2048, 12, 12, 12),
    "1.1b": (2048, 5632, 22, 32, 4),  # TinyLlama-1.1B's shape
    "7b": (4096, 11008, 32, 32, 32),  # Llama-2-7B's shape
}
ANCHOR_SIZES = ("125m", "1.1b")
TIMEOUT = 3 * 3600


def config_of(hidden: int, mlp: int, layers: int, heads: int, kv: int) -> dict[str, object]:
    return {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden,
        "intermediate_size": mlp,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "vocab_size": 32000,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "dtype": "bfloat16",
    }


def write_random(directory: Path, config: dict[str, object]) -> Path:
    """A random bfloat16 checkpoint, one decoder layer in memory at a time."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM

    if (directory / "model.safetensors.index.json").is_file():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    groups: dict[str, list[str]] = {}
    for name in shapes:
        parts = name.split(".")
        key = f"layer{int(parts[2]):03d}" if name.startswith("model.layers.") else "ends"
        groups.setdefault(key, []).append(name)
    generator = torch.Generator().manual_seed(0)
    weight_map = {}
    total = 0
    files = sorted(groups)
    for number, key in enumerate(files, 1):
        tensors = {}
        for name in groups[key]:
            shape = shapes[name]
            if len(shape) == 1:  # norms
                tensor = torch.ones(shape, dtype=torch.bfloat16)
            else:
                tensor = torch.empty(shape, dtype=torch.float32).normal_(
                    0, 0.02, generator=generator
                )
                tensor = tensor.to(torch.bfloat16)
            tensors[name] = tensor
            total += tensor.numel() * 2
        file = f"model-{number:05d}-of-{len(files):05d}.safetensors"
        save_file(tensors, str(directory / file), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(tensors, file)
        del tensors
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=1))
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    return directory


ANCHOR = r"""
import json, sys, time, torch
from transformers import AutoModelForCausalLM
torch.set_num_threads(2)
start = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
ids = torch.randint(0, 32000, (8, 128), generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    states = model(input_ids=ids, output_hidden_states=True).hidden_states
bi = [float(1 - torch.nn.functional.cosine_similarity(a.flatten(0, 1), b.flatten(0, 1)).mean())
      for a, b in zip(states[:-1], states[1:])]
from prunekit.llm.memory import peak_resident_bytes
print(json.dumps({"seconds": time.perf_counter() - start, "layers_scored": len(bi),
                  "peak_mb": peak_resident_bytes() / 2**20}))
"""


def run_prunekit(directory: Path, out: Path) -> dict[str, object]:
    command = [
        sys.executable, "-m", "prunekit.cli", "llm", str(directory), "--out", str(out),
        "--method", "block_influence", "--target", "layers=0.75", "--samples", "8",
        "--heldout", "4", "--seq-len", "128", "--batch-size", "8", "--dtype", "float32",
        "--quiet",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    report = json.loads((out / "prunekit-llm.json").read_text())
    return {
        "seconds": seconds,
        "scoring_seconds": report["seconds"]["scoring"],
        "peak_mb": report["peak_memory_bytes"] / 2**20,
        "params_after": report["params"]["after"],
        "layers_after": report["layers"]["after"],
        "perplexity": report["perplexity"],
        "shapes_checked": True,  # write_pruned checks every tensor against the written config
    }


def run_anchor(directory: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", ANCHOR, str(directory)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["killed"])[-1][:300]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def params_of(config: dict[str, object]) -> int:
    h, m, n, heads, kv = (int(config[k]) for k in (  # type: ignore[call-overload]
        "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads"))  # fmt: skip
    head_dim = h // heads
    layer = h * heads * head_dim * 2 + 2 * h * kv * head_dim + 3 * h * m + 2 * h
    return n * layer + 2 * 32000 * h + h


def point(name: str, config: dict[str, object], anchor: bool, cache: Path) -> dict[str, object]:
    directory = write_random(cache / name, config)
    row: dict[str, object] = {
        "model": name,
        "layers": config["num_hidden_layers"],
        "hidden": config["hidden_size"],
        "params": params_of(config),
        "disk_gb": sum(p.stat().st_size for p in directory.iterdir()) / 1e9,
    }
    row["prunekit"] = run_prunekit(directory, cache / f"{name}-pruned")
    if anchor:
        row["shortgpt"] = run_anchor(directory)
    else:
        row["shortgpt"] = {"needs_mb": row["params"] * 4 / 2**20}  # type: ignore[operator]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=list(SIZES))
    parser.add_argument("--depths", nargs="*", type=int, default=[6, 12, 24, 48])
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    result = {
        "command": "python benchmarks/large.py"
        + (f" --sizes {' '.join(args.sizes)}" if args.sizes != list(SIZES) else "")
        + (
            f" --depths {' '.join(map(str, args.depths))}" if args.depths != [6, 12, 24, 48] else ""
        ),
        "rows": rows,
        "machine": machine(2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    points = [(name, config_of(*SIZES[name]), name in ANCHOR_SIZES) for name in args.sizes]
    hidden, mlp, _, heads, kv = SIZES["125m"]
    points += [(f"depth-{n}", config_of(hidden, mlp, n, heads, kv), False) for n in args.depths]
    for name, config, anchor in points:
        row = point(name, config, anchor, args.cache)
        row["sweep"] = "depth" if name.startswith("depth-") else "size"
        rows.append(row)
        print(json.dumps(row), flush=True)
        (args.out / "large.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
