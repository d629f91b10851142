"""SGLP against the layer-importance baselines on offline data (issue 5, item 8).

    .venv/bin/python benchmarks/sglp.py classify --dataset mnist1d [--hard] [--seeds 3]
    .venv/bin/python benchmarks/sglp.py classify --dataset digits
    .venv/bin/python benchmarks/sglp.py minilm
    .venv/bin/python benchmarks/sglp.py lm [--seeds 3]

classify: a 16-block SmallResNet is trained per seed, then every method removes 50% and 75% of
the blocks; test accuracy with no fine-tuning and after the same short fine-tune. --hard uses
fewer training samples and more generator noise (stated in the JSON). minilm: remove 2 of the
6 layers, mean cosine of sentence embeddings to the unpruned model on the zoo's text set.
Each run writes JSON to benchmarks/results/ and a CKA heatmap with the segments per SGLP run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch

import prunekit as pk
from machine import machine
from prunekit.methods.registry import entry_for
from prunekit.report.figures import cka_heatmap
from prunekit.train import accuracy, fit
from tasks import fresh_resnet, options

RESULTS = Path(__file__).parent / "results"
BASELINES = ("block_influence", "angular", "random", "last")


def heatmap(details: dict[str, Any], path: Path, title: str) -> None:
    """The report's CKA heatmap with SGLP's segments, written as a PNG file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cka_heatmap(details, title))


def methods(keep: float, gradnorm: bool = False) -> dict[str, Any]:
    """SGLP (and, when asked, its GradNorm selection: slow, one score per candidate set is a
    backward pass over the training batches) and the baselines."""
    target = pk.Target(layers=keep)
    out: dict[str, Any] = {"sglp": pk.SGLPConfig(target=target)}
    if gradnorm:
        out["sglp_gradnorm"] = pk.SGLPConfig(target=target, selection="gradnorm")
    for name in BASELINES:
        out[name] = pk.LayerConfig(target=target, criterion=name)
    return out


def classify(
    dataset: str, hard: bool, seeds: int, epochs: int, finetune: int, figures: Path
) -> dict[str, Any]:
    rows = []
    tag = f"{dataset}{'-hard' if hard else ''}"
    for seed in range(seeds):
        data = pk.zoo.dataset(dataset, seed=seed, **options(dataset, hard))
        model = fresh_resnet(dataset, seed)
        train = data.loader("train", batch_size=64)
        test = data.loader("test", batch_size=256)
        start = time.perf_counter()
        fit(model, train, epochs=epochs, lr=3e-3, seed=seed)
        dense = accuracy(model, test)
        print(f"[{tag} seed {seed}] dense {dense:.4f} ({time.perf_counter() - start:.0f} s)")
        example = next(iter(test))[0][:2]
        for keep in (0.5, 0.25):
            for name, config in methods(keep).items():
                config = dataclasses.replace(config, seed=seed)
                result = pk.prune(
                    model,
                    config,
                    example_inputs=example,
                    train_data=train,
                    val_data=data.loader("val", batch_size=128),
                )
                before = accuracy(result.model, test)
                tuned = copy.deepcopy(result.model)
                fit(tuned, train, epochs=finetune, lr=1e-3, seed=seed)
                after = accuracy(tuned, test)
                row = {
                    "seed": seed,
                    "keep": keep,
                    "method": name,
                    "dense": dense,
                    "no_finetune": before,
                    "finetuned": after,
                    "removed": result.details["removed"],
                    "params_kept": result.after.params / result.before.params,
                }
                rows.append(row)
                print(f"  keep {keep} {name:16s} {before:.4f} -> {after:.4f}", flush=True)
                if name == "sglp":
                    heatmap(
                        result.details,
                        figures / f"sglp-cka-{tag}-seed{seed}-keep{keep}.png",
                        f"SmallResNet on {tag}, seed {seed}: CKA and SGLP segments",
                    )
    setting = {
        "dataset": dataset,
        "hard": options(dataset, hard) or None,
        "epochs": epochs,
        "finetune_epochs": finetune,
        "seeds": seeds,
    }
    return {"setting": setting, "rows": rows}


def minilm(seeds: int, figures: Path) -> dict[str, Any]:
    from prunekit.zoo.text import sentence_embeddings

    tokenizer = pk.zoo.tokenizer("minilm")
    model = pk.zoo.model("minilm").eval()
    data = pk.zoo.dataset("text", seed=0)
    sentences = [data.test[i] for i in range(len(data.test))][:400]
    train_sentences = [data.train[i] for i in range(len(data.train))][:128]
    with torch.no_grad():
        reference = sentence_embeddings(model, tokenizer, sentences)
    batches = []
    for start in range(0, len(train_sentences), 32):
        encoded = dict(
            tokenizer(
                train_sentences[start : start + 32],
                padding=True,
                truncation=True,
                max_length=64,
                return_tensors="pt",
            )
        )
        with torch.no_grad():
            encoded["labels"] = model(**encoded).last_hidden_state.mean(1)
        batches.append(encoded)

    def loss_fn(hidden: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (1 - torch.nn.functional.cosine_similarity(hidden.mean(1), target)).mean()

    example = {k: v[:2] for k, v in batches[0].items() if k != "labels"}
    rows = []
    for name, config in methods(4 / 6, gradnorm=True).items():
        config = dataclasses.replace(config, segments=3) if name.startswith("sglp") else config
        result = pk.prune(
            model,
            config,
            example_inputs=example,
            train_data=batches,
            val_data=[{k: v for k, v in b.items() if k != "labels"} for b in batches],
            **entry_for(config).taken(loss_fn=loss_fn),
        )
        with torch.no_grad():
            pruned = sentence_embeddings(result.model, tokenizer, sentences)
        cosine = float((pruned * reference).sum(-1).mean())
        rows.append({"method": name, "removed": result.details["removed"], "cosine": cosine})
        print(f"  {name:16s} removed {result.details['removed']} cosine {cosine:.4f}", flush=True)
        if name == "sglp":
            heatmap(
                result.details,
                figures / "sglp-cka-minilm.png",
                "MiniLM: CKA between layers and SGLP segments",
            )
    return {"setting": {"sentences": len(sentences), "remove": 2, "seeds": seeds}, "rows": rows}


def lm_batches(sentences: list[str], tokenizer: Any, size: int = 32) -> list[dict[str, Any]]:
    out = []
    for start in range(0, len(sentences), size):
        encoded = dict(
            tokenizer(
                sentences[start : start + size],
                padding=True,
                truncation=True,
                max_length=48,
                return_tensors="pt",
            )
        )
        encoded.pop("token_type_ids", None)
        labels = encoded["input_ids"].clone()
        labels[encoded["attention_mask"] == 0] = -100
        encoded["labels"] = labels
        out.append(encoded)
    return out


def lm(seeds: int, epochs: int, heal: int, figures: Path) -> dict[str, Any]:
    """A GPT-2-style causal LM (8 layers, MiniLM's tokenizer) trained on the zoo's text set;
    remove 2 and 4 layers; held-out perplexity without and with a short healing fine-tune."""
    import math

    import transformers

    from prunekit.train import mean_loss

    tokenizer = pk.zoo.tokenizer("minilm")
    data = pk.zoo.dataset("text", seed=0)
    split = {
        s: [data.split(s)[i] for i in range(len(data.split(s)))] for s in ("train", "val", "test")
    }
    train, val, test = (lm_batches(split[s], tokenizer) for s in ("train", "val", "test"))
    rows = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        config = transformers.GPT2Config(
            vocab_size=tokenizer.vocab_size,
            n_embd=128,
            n_layer=8,
            n_head=4,
            n_positions=64,
            bos_token_id=0,
            eos_token_id=0,
        )
        model = transformers.GPT2LMHeadModel(config)
        fit(model, train, epochs=epochs, lr=2e-3, seed=seed)
        dense = math.exp(mean_loss(model, test))
        print(f"[lm seed {seed}] dense perplexity {dense:.2f}", flush=True)
        example = {k: v[:2] for k, v in train[0].items() if k != "labels"}
        for remove in (2, 4):
            for name, cfg in methods((8 - remove) / 8).items():
                cfg = dataclasses.replace(cfg, seed=seed)
                result = pk.prune(
                    model, cfg, example_inputs=example, train_data=train, val_data=val
                )
                before = math.exp(mean_loss(result.model, test))
                healed = copy.deepcopy(result.model)
                fit(healed, train, epochs=heal, lr=1e-3, seed=seed)
                after = math.exp(mean_loss(healed, test))
                rows.append(
                    {
                        "seed": seed,
                        "remove": remove,
                        "method": name,
                        "dense": dense,
                        "no_finetune": before,
                        "finetuned": after,
                        "removed": result.details["removed"],
                    }
                )
                print(f"  remove {remove} {name:16s} ppl {before:.1f} -> {after:.1f}", flush=True)
                if name == "sglp":
                    heatmap(
                        result.details,
                        figures / f"sglp-cka-lm-seed{seed}-remove{remove}.png",
                        f"GPT-2-style LM, seed {seed}: CKA and SGLP segments",
                    )
    setting = {
        "layers": 8,
        "n_embd": 128,
        "epochs": epochs,
        "heal_epochs": heal,
        "seeds": seeds,
        "metric": "test perplexity (lower is better)",
    }
    return {"setting": setting, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("classify")
    c.add_argument("--dataset", choices=("mnist1d", "digits"), required=True)
    c.add_argument("--hard", action="store_true")
    c.add_argument("--seeds", type=int, default=3)
    c.add_argument("--epochs", type=int, default=15)
    c.add_argument("--finetune", type=int, default=3)
    m = sub.add_parser("minilm")
    m.add_argument("--seeds", type=int, default=1)
    g = sub.add_parser("lm")
    g.add_argument("--seeds", type=int, default=3)
    g.add_argument("--epochs", type=int, default=12)
    g.add_argument("--heal", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.command == "classify":
        result = classify(
            args.dataset, args.hard, args.seeds, args.epochs, args.finetune, args.out / "figures"
        )
        name = f"sglp-{args.dataset}{'-hard' if args.hard else ''}.json"
        command = (
            f"python benchmarks/sglp.py classify --dataset {args.dataset}"
            f"{' --hard' if args.hard else ''} --seeds {args.seeds} --epochs {args.epochs}"
            f" --finetune {args.finetune}"
        )
    elif args.command == "lm":
        result = lm(args.seeds, args.epochs, args.heal, args.out / "figures")
        name = "sglp-lm.json"
        command = (
            f"python benchmarks/sglp.py lm --seeds {args.seeds} --epochs {args.epochs}"
            f" --heal {args.heal}"
        )
    else:
        result = minilm(args.seeds, args.out / "figures")
        name, command = "sglp-minilm.json", "python benchmarks/sglp.py minilm"
    result["command"] = command
    result["machine"] = machine(2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / name).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
