"""``prunekit llm``: score a checkpoint layer by layer, choose what to keep, write the pruned
checkpoint tensor by tensor, measure perplexity before and after (the second from the written
files), and write a report beside the weights."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from prunekit.core.budget.target import Target
from prunekit.errors import ConfigError
from prunekit.llm.checkpoint import Checkpoint
from prunekit.llm.heal import HealOptions, heal, heal_state
from prunekit.llm.memory import peak_resident_bytes
from prunekit.llm.names import DEPTH, DTYPE_NAMES
from prunekit.llm.outputs import check_output
from prunekit.llm.passes import Resume, run_pass
from prunekit.llm.plan import LLMPlan
from prunekit.llm.report import REPORT, write_llm_report
from prunekit.llm.scores import Scores
from prunekit.llm.select import (
    check_request,
    depth_plan,
    params_of,
    removed_count,
    segmentation,
    width_plan,
)
from prunekit.llm.stream import LayerStream
from prunekit.llm.tokens import read_text, token_sets
from prunekit.llm.write import write_pruned

# options that do not change the scoring pass (a rerun with another value resumes it)
_NOT_SCORING = ("progress", "target", "heal_steps", "heal_lr", "save_every_s")
DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}


@dataclass(frozen=True)
class LLMOptions:
    method: str = "block_influence"
    target: Target = field(default_factory=lambda: Target(layers=0.75))
    calibration: str = "text"
    samples: int = 8
    heldout: int = 4
    seq_len: int = 128
    batch_size: int = 8
    device: str = "cpu"
    dtype: str = "float32"
    progress: bool = True
    save_every_s: float = 30.0
    heal_steps: int = 0
    heal_lr: float = 1e-5

    def __post_init__(self) -> None:
        check_request(self.method, self.target)
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype {self.dtype!r}; expected one of {', '.join(DTYPES)}")
        if self.heal_steps < 0 or self.heal_lr <= 0:
            raise ConfigError(
                f"--heal-steps {self.heal_steps} / --heal-lr {self.heal_lr}: expected steps >= 0 "
                "and a learning rate > 0"
            )
        if self.samples % self.batch_size:
            raise ConfigError(
                f"--samples {self.samples} is not a multiple of --batch-size {self.batch_size}; "
                "every calibration batch must be full (CKA is estimated per batch); fix: e.g. "
                f"--samples {self.samples - self.samples % self.batch_size or self.batch_size}"
            )
        for name in ("samples", "heldout", "seq_len", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1")
        if self.method == "sglp" and min(self.samples, self.batch_size) < 4:
            raise ConfigError(
                "--method sglp estimates CKA from batches of at least 4 sequences; fix: "
                "--samples 4 or more (and --batch-size 4 or more)"
            )


def prune_llm(
    model_dir: str | os.PathLike[str], out: str | os.PathLike[str], options: LLMOptions
) -> dict[str, Any]:
    """Prune the checkpoint at ``model_dir`` into ``out``; returns the report (also written to
    ``out/prunekit-llm.json``). Resumes an interrupted run with the same arguments."""
    started = time.perf_counter()
    out = Path(out)
    out = check_output(out, [Path(model_dir)])
    dtype = DTYPES[options.dtype]
    with Checkpoint(model_dir) as checkpoint:
        config = checkpoint.config()
        removing = removed_count(checkpoint, options.target) if options.method in DEPTH else 0
        tokens = token_sets(
            read_text(options.calibration),
            checkpoint.directory,
            int(config.vocab_size),
            options.samples,
            options.heldout,
            options.seq_len,
            options.batch_size,
        )
        scores = Scores(
            checkpoint.layers,
            int(config.num_attention_heads),
            removing if options.method == "angular" else 0,
            len(tokens.calibration),
        )
        work = out.parent / f".{out.name}.prunekit-work"
        fingerprint = {
            "model": str(Path(model_dir).resolve()),
            "model_files": _digest(checkpoint, options.calibration),
            **{k: v for k, v in asdict(options).items() if k not in _NOT_SCORING},
            "target": options.target.given(),
        }
        stream = LayerStream(checkpoint, options.device, dtype)
        with _bar(options.progress, checkpoint.layers, "scoring layers") as update:
            _, before = run_pass(
                stream,
                tokens.calibration,
                tokens.heldout,
                scores,
                Resume(work, fingerprint, options.save_every_s),
                update,
            )
        scored_s = time.perf_counter() - started
        if options.method in DEPTH:
            plan, details = depth_plan(options.method, scores, removing)
        else:
            plan, details = width_plan(checkpoint, scores, options.target), {}
        params_before = params_of(checkpoint, LLMPlan(tuple(range(checkpoint.layers))))
        with _bar(options.progress, 0, "writing checkpoint", "tensor") as update:
            write_pruned(checkpoint, plan, out, progress=update)
        shutil.rmtree(heal_state(out), ignore_errors=True)  # a new student: heal from its start
    with Checkpoint(out) as written:
        params_after = params_of(written, LLMPlan(tuple(range(written.layers))))
    after = _perplexity(out, tokens.heldout, options, "perplexity of the output")
    perplexity = {"before": before, "after": after, "heldout_sequences": options.heldout}
    healing: dict[str, Any] = {}
    if options.heal_steps:
        heal_options = HealOptions(
            steps=options.heal_steps,
            lr=options.heal_lr,
            seq_len=options.seq_len,
            sequences=options.samples,
            calibration=options.calibration,
            device=options.device,
            progress=options.progress,
        )
        log = heal(out, model_dir, out, heal_options)
        perplexity["after_healing"] = _perplexity(
            out, tokens.heldout, options, "perplexity after healing"
        )
        healing = {"options": asdict(heal_options), "loss": log["loss"], "seconds": log["seconds"]}
    report = {
        "model": str(model_dir),
        "options": fingerprint,
        "tokenizer": tokens.tokenizer,
        "plan": plan.to_dict(),
        "layers": {"before": checkpoint.layers, "after": len(plan.layers)},
        "params": {"before": params_before, "after": params_after},
        "perplexity": perplexity,
        "healing": healing,
        "scores": {
            "block_influence": scores.block_influence.tolist(),
            "angular": scores.angular.tolist(),
            "run_length": scores.run_length,
        },
        "details": details,
        "segmentation": segmentation(scores),
        "peak_memory_bytes": peak_resident_bytes(),
        "seconds": {"scoring": scored_s, "total": time.perf_counter() - started},
    }
    (out / REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_llm_report(out, report)
    shutil.rmtree(work, ignore_errors=True)
    return report


def _digest(checkpoint: Checkpoint, calibration: str) -> str:
    """What a saved scoring state must have seen: the config, the shards (names, sizes,
    modification times) and the calibration file."""
    digest = hashlib.sha256(json.dumps(checkpoint.config_dict, sort_keys=True).encode())
    for file in sorted(set(checkpoint.files.values())):
        stat = (checkpoint.directory / file).stat()
        digest.update(f"{file}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    if calibration != "text":
        digest.update(Path(calibration).read_bytes())
    return digest.hexdigest()


def _perplexity(
    directory: Path, heldout: list[torch.Tensor], options: LLMOptions, desc: str
) -> float:
    """Held-out perplexity of the checkpoint written at ``directory``, streamed."""
    with Checkpoint(directory) as written, _bar(options.progress, written.layers, desc) as update:
        stream = LayerStream(written, options.device, DTYPES[options.dtype])
        _, value = run_pass(stream, [], heldout, None, None, update)
    return value


class _bar:  # noqa: N801 - used as a context manager
    def __init__(self, enabled: bool, total: int, desc: str, unit: str = "layer") -> None:
        self.bar = tqdm(total=total, desc=desc, disable=not enabled, unit=unit)

    def __enter__(self):
        def update(done: int, total: int) -> None:
            self.bar.total, self.bar.n = total, done
            self.bar.refresh()

        return update

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
