"""Cost of the structural core and of SGLP against model size (issue 10, item 4).

    .venv/bin/python benchmarks/scaling.py [--models resnet18 ...] [--out benchmarks/results]

Each (model, method) point runs in a fresh process on random weights: ``core`` is
``pk.prune(model, ChannelConfig(target=Target(params=0.5)))`` (dependency analysis, ranking,
the trial removal of every group, the removal itself, the final equivalence check; the
returned model is a pruned copy, so the caller's model stays whole); ``core-inplace`` is the
same with ``inplace=True`` (the caller's model is pruned, no copy); ``sglp`` is
``pk.prune(model, SGLPConfig(target=Target(layers=0.5), cka_batches=2, score_batches=2,
exhaustive_limit=8))`` on 2 random batches (greedy GradNorm selection beyond 8 subsets per
segment, so that the largest models finish in minutes). Time is wall-clock of that call;
peak memory is the process's maximum resident set size after the call minus the same after
building the model and one forward pass (ru_maxrss). Inputs: ResNets 4x3x64x64, ViTs
4x3x224x224, LLaMAs 4 sequences of 32 tokens.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from machine import machine

RESULTS = Path(__file__).parent / "results"
TIMEOUT = 900  # seconds per point
METHODS = ("core", "core-inplace", "sglp")
LLAMAS = {  # hidden size, layers, heads: tiny to medium random LLaMA configs
    "llama-tiny": (128, 4, 4),
    "llama-small": (256, 8, 8),
    "llama-medium": (512, 16, 8),
}
MODELS = (
    "resnet18",
    "resnet50",
    "resnet101",
    "resnet152",
    "timm:vit_tiny_patch16_224",
    "timm:vit_small_patch16_224",
    "timm:vit_base_patch16_224",
    *LLAMAS,
)
POINT = r"""
import json, resource, sys, time, torch, prunekit as pk
torch.set_num_threads(2)
name, method = sys.argv[1], sys.argv[2]
llamas = json.loads(sys.argv[3])
g = torch.Generator().manual_seed(0)
if name in llamas:
    import transformers
    hidden, layers, heads = llamas[name]
    config = transformers.LlamaConfig(hidden_size=hidden, intermediate_size=4 * hidden,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads // 2,
        vocab_size=1000)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    def batch():
        ids = torch.randint(0, 1000, (4, 32), generator=g)
        return {"input_ids": ids, "labels": ids}
    example = {"input_ids": torch.randint(0, 1000, (2, 32), generator=g)}
else:
    model = pk.zoo.model(name)
    size = 224 if "vit" in name else 64
    def batch():
        return (torch.randn(4, 3, size, size, generator=g), torch.randint(0, 10, (4,), generator=g))
    example = torch.randn(2, 3, size, size, generator=g)
batches = [batch() for _ in range(2)]
with torch.no_grad():
    model.eval()(**example) if isinstance(example, dict) else model.eval()(example)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
core = method.startswith("core")
target = pk.Target(params=0.5) if core else pk.Target(layers=0.5)
config = (pk.ChannelConfig(target=target) if core
          else pk.SGLPConfig(target=target, cka_batches=2, score_batches=2, exhaustive_limit=8))
params = sum(p.numel() for p in model.parameters())
start = time.perf_counter()
if core:  # l2 importance: channel pruning takes no data
    pk.prune(model, config, example_inputs=example, inplace=method == "core-inplace")
else:
    pk.prune(model, config, example_inputs=example, train_data=batches, val_data=batches)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"params": params, "seconds": seconds, "peak_extra_mb": (peak - base) / 1024}))
"""


def point(name: str, method: str) -> dict[str, object]:
    row: dict[str, object] = {"model": name, "method": method}
    try:
        done = subprocess.run(
            [sys.executable, "-c", POINT, name, method, json.dumps(LLAMAS)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return row | {"error": f"over {TIMEOUT} s"}
    if done.returncode != 0:  # killed (out of memory: no stderr) or an exception
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return row | {"error": last[:300]}
    return row | json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--methods", nargs="+", choices=METHODS, default=list(METHODS), help="sglp takes minutes"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    result = {
        "command": "python benchmarks/scaling.py"
        + (f" --models {' '.join(args.models)}" if args.models != list(MODELS) else "")
        + (f" --methods {' '.join(args.methods)}" if args.methods != list(METHODS) else ""),
        "rows": rows,
        "machine": machine(2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        for method in args.methods:
            rows.append(point(name, method))
            print(rows[-1], flush=True)
            (args.out / _file(args.methods)).write_text(json.dumps(result, indent=1) + "\n")


def _file(methods: list[str]) -> str:
    """Channel pruning alone (seconds per model) is kept apart from SGLP (minutes per model),
    so that rerunning one does not discard the other."""
    return "scaling.json" if "sglp" in methods else "scaling-core.json"


if __name__ == "__main__":
    main()
