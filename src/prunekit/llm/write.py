"""Write a pruned checkpoint tensor by tensor: config.json, safetensors shards and their index,
the way ``save_pretrained`` lays them out, so stock ``from_pretrained`` loads it. Everything is
written into a staging folder beside the output and moved in at the end: a crash or a full disk
leaves the previous output as it was."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from prunekit.errors import PrunekitError
from prunekit.llm.checkpoint import INDEX, Checkpoint
from prunekit.llm.outputs import check_output, finish, staging_for
from prunekit.llm.plan import LLMPlan
from prunekit.llm.shards import Entry, group, write_shard
from prunekit.llm.slicing import Shapes, Slice, slice_of

SHARD_BYTES = 2 << 30  # memory holds one tensor, whatever the shard size
COPIED = (
    "generation_config.json",
    "chat_template.jinja",
    "added_tokens.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
)


def shapes_of(checkpoint: Checkpoint) -> Shapes:
    config = checkpoint.config()
    heads = int(config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    return Shapes(heads, int(kv), int(head_dim), int(config.intermediate_size))


def pruned_config(checkpoint: Checkpoint, plan: LLMPlan) -> dict[str, Any]:
    """config.json of the pruned model: layer count and layer types follow the kept layers,
    widths the kept heads, neurons and channels (head_dim written out: it no longer follows
    from hidden_size / heads)."""
    config = dict(checkpoint.config_dict)
    shapes = shapes_of(checkpoint)
    config["num_hidden_layers"] = len(plan.layers)
    config.pop("auto_map", None)  # remote code is not copied; the stock class loads it
    layer_types = getattr(checkpoint.config(), "layer_types", None)
    if layer_types is not None:
        config["layer_types"] = [layer_types[i] for i in plan.layers]
    for field, per_layer in (
        ("num_attention_heads", plan.heads),
        ("num_key_value_heads", plan.kv_heads),
        ("intermediate_size", plan.neurons),
    ):
        if per_layer:
            (count,) = {len(v) for v in per_layer.values()}  # uniform by construction
            config[field] = count
    if plan.heads or plan.hidden is not None:
        config["head_dim"] = shapes.head_dim
    if plan.hidden is not None:
        config["hidden_size"] = len(plan.hidden)
    return config


def check_config(checkpoint: Checkpoint, plan: LLMPlan) -> None:
    """transformers accepts the pruned config (it validates some fields against others, e.g.
    Phi-3's long-context rope factors against hidden_size / heads), before anything is
    written."""
    from transformers import AutoConfig

    try:
        AutoConfig.for_model(**pruned_config(checkpoint, plan))
    except Exception as exc:  # transformers raises several types for a config it refuses
        raise PrunekitError(
            f"transformers refuses the pruned config of {checkpoint.directory} ({exc}); "
            "nothing was written; fix: prune depth only (a depth --method), or a width target "
            "that keeps the fields this family derives from each other consistent"
        ) from exc


def planned(checkpoint: Checkpoint, plan: LLMPlan) -> list[tuple[str, Slice]]:
    """(source name, slice) of every tensor written, in the order they are written."""
    shapes = shapes_of(checkpoint)
    out = []
    for name in checkpoint.names:
        piece = slice_of(name, plan, checkpoint.family, shapes)
        if piece is not None:
            out.append((name, piece))
    head = f"{checkpoint.family.layers}."

    def order(item: tuple[str, Slice]) -> tuple[int, str]:
        new = item[1].name
        if not new.startswith(head):
            return (-1 if new == checkpoint.family.embedding else 1 << 30, new)
        return int(new[len(head) :].split(".", 1)[0]), new

    return sorted(out, key=order)


def write_pruned(
    checkpoint: Checkpoint,
    plan: LLMPlan,
    out: str | os.PathLike[str],
    shard_bytes: int = SHARD_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the pruned checkpoint to ``out`` (replacing a previous prunekit output there)."""
    target = check_output(Path(out), [checkpoint.directory])
    check_config(checkpoint, plan)
    staging = staging_for(target)
    try:
        _write(checkpoint, plan, staging, shard_bytes, progress)
        check_shapes(staging)
        finish(staging, target)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise PrunekitError(
                f"the disk filled while writing the pruned checkpoint to {target} ({exc}); the "
                f"previous contents of {target} are intact and the partial copy was removed; "
                "fix: free space (about the pruned model's size) and run again"
            ) from exc
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _write(
    checkpoint: Checkpoint,
    plan: LLMPlan,
    folder: Path,
    shard_bytes: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    items = planned(checkpoint, plan)
    sources = {piece.name: (source, piece) for source, piece in items}
    entries = [
        Entry(piece.name, piece.shape(checkpoint.shape(source)), checkpoint.dtype_code(source))
        for source, piece in items
    ]
    shards = group(entries, shard_bytes)
    done = 0

    def tensor(entry: Entry) -> torch.Tensor:
        nonlocal done
        source, piece = sources[entry.name]
        data = piece.apply(checkpoint.tensor(source))
        done += 1
        if progress is not None:
            progress(done, len(entries))
        return data

    weight_map = {}
    for number, shard in enumerate(shards, 1):
        file = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        write_shard(folder / file, shard, tensor, {"format": "pt"})
        weight_map |= {entry.name: file for entry in shard}
    total = sum(entry.nbytes for entry in entries)
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    config = pruned_config(checkpoint, plan)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    for name in COPIED:
        if (checkpoint.directory / name).is_file():
            shutil.copyfile(checkpoint.directory / name, folder / name)


def check_shapes(folder: Path) -> None:
    """Every tensor written has the shape the written config gives it, and the config's tensors
    are all there (the head may be tied to the embedding)."""
    with Checkpoint(folder) as written:
        model = written.skeleton(torch.float32)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        found = {name: written.shape(name) for name in written.names}
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    missing = [k for k in expected if k not in found and not (tied and k == "lm_head.weight")]
    wrong = [(k, found[k], v) for k, v in expected.items() if k in found and found[k] != v]
    extra = [k for k in found if k not in expected]
    if missing or wrong or extra:
        raise PrunekitError(
            "the pruned checkpoint does not match its config (a prunekit bug; nothing was "
            f"written): missing {missing[:3]}, wrong shapes {wrong[:3]}, unexpected {extra[:3]}"
        )
