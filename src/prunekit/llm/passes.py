"""One layer-sequential pass over a checkpoint: calibration batches (observed by Scores) and
held-out batches (for perplexity) run through each decoder layer while it is loaded. The pass
saves its state (hidden states and scores, one safetensors file replaced atomically) so that an
interrupted run resumes at the next layer."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from prunekit.llm.scores import Scores
from prunekit.llm.stream import LayerStream, layer_path

STATE = "state.safetensors"


@dataclass
class Resume:
    """Where the pass keeps its state, and what must match for a saved state to be reused."""

    folder: Path
    fingerprint: dict[str, object]
    every_s: float = 30.0


def run_pass(
    stream: LayerStream,
    calibration: list[torch.Tensor],
    heldout: list[torch.Tensor],
    scores: Scores | None,
    resume: Resume | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[torch.Tensor], float]:
    """The last layer's outputs for the calibration batches, and the held-out perplexity."""
    embedded = stream.embed([*calibration, *heldout])
    hidden = [h for h, _ in embedded]
    kwargs = [k for _, k in embedded]
    start = _restore(resume, hidden, scores) if resume is not None else 0
    saved_at = time.monotonic()
    layers = stream.checkpoint.layers
    for index in range(start, layers):
        with stream.loaded(layer_path(stream.checkpoint, index)) as layer:
            hooks = scores.width_hooks(index, layer) if scores is not None else []
            for b in range(len(hidden)):
                if b == len(calibration):
                    for hook in hooks:
                        hook.remove()
                y = stream.run_layer(layer, hidden[b], kwargs[b][index])
                if scores is not None and b < len(calibration):
                    scores.observe(index, b, hidden[b], y)
                hidden[b] = y
            for hook in hooks:
                hook.remove()
        due = time.monotonic() - saved_at >= (resume.every_s if resume else math.inf)
        if resume is not None and (due or index == layers - 1):
            _save(resume, index + 1, hidden, scores)
            saved_at = time.monotonic()
        if progress is not None:
            progress(index + 1, layers)
    total, count = stream.loss(heldout, hidden[len(calibration) :])
    perplexity = math.exp(total / count) if count else math.nan
    return hidden[: len(calibration)], perplexity


def _save(resume: Resume, done: int, hidden: list[torch.Tensor], scores: Scores | None) -> None:
    resume.folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"hidden.{b}": h.contiguous().cpu() for b, h in enumerate(hidden)}
    if scores is not None:
        tensors |= {f"scores.{k}": v for k, v in scores.state().items()}
    metadata = {"done": str(done), "fingerprint": json.dumps(resume.fingerprint, sort_keys=True)}
    tmp = resume.folder / f".{STATE}.tmp"
    save_file(tensors, str(tmp), metadata=metadata)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, resume.folder / STATE)


def _restore(resume: Resume, hidden: list[torch.Tensor], scores: Scores | None) -> int:
    """The number of layers already done by a saved state that matches, 0 without one."""
    path = resume.folder / STATE
    if not path.is_file():
        return 0
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("fingerprint") != json.dumps(resume.fingerprint, sort_keys=True):
            return 0
        state = load_file(str(path))
    except (OSError, ValueError, RuntimeError):  # a damaged state file: start over
        return 0
    for b in range(len(hidden)):
        hidden[b] = state[f"hidden.{b}"].to(hidden[b].device)
    if scores is not None:
        scores.load_state({k[7:]: v for k, v in state.items() if k.startswith("scores.")})
    return int(metadata["done"])
