"""Healing a pruned LLM by knowledge distillation from the unpruned one: KL divergence between
the teacher's and the student's next-token distributions (temperature T, scaled by T^2), plus
an optional mean squared error between their last hidden states (same width only).

One process runs it on one device. Under ``torchrun`` it runs data parallel with FSDP
(``torch.distributed.fsdp.fully_shard`` on every decoder layer and the model, student and
teacher): each rank takes its own sequences, gradients are reduced by FSDP, and the logged loss
is the mean over ranks (the same number on every rank). Every ``checkpoint_every`` steps the
full student and optimizer state are gathered to rank 0 and saved as one safetensors file
(the log and optimizer settings as JSON in its metadata; no pickle); a restarted run with the
same arguments loads it (rank 0 reads, FSDP broadcasts) and continues at the next step, with
the same weights as a run never stopped. Rank 0 must see the state folder beside ``out``."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from prunekit.errors import ConfigError
from prunekit.llm.checkpoint import Checkpoint
from prunekit.llm.outputs import check_output, finish, staging_for
from prunekit.llm.report import HEATMAP, MARKDOWN, REPORT
from prunekit.llm.shards import CODES
from prunekit.llm.tokens import read_text, token_sets
from prunekit.llm.write import COPIED

REPORT_FILES = (REPORT, MARKDOWN, HEATMAP)

STATE = "heal-state"
STATE_FILE = "state.safetensors"


@dataclass(frozen=True)
class HealOptions:
    steps: int = 100
    lr: float = 1e-5
    batch_size: int = 4  # sequences per rank and step
    seq_len: int = 128
    sequences: int = 64  # distinct training sequences, cycled
    temperature: float = 1.0
    hidden_weight: float = 0.0
    calibration: str = "text"
    checkpoint_every: int = 50
    device: str = "cpu"
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "seq_len", "sequences", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"HealOptions.{name} is {getattr(self, name)}; expected >= 1")
        if self.temperature <= 0 or self.lr <= 0 or self.hidden_weight < 0:
            raise ConfigError(
                "HealOptions: temperature and lr must be > 0 and hidden_weight >= 0; got "
                f"{self.temperature}, {self.lr}, {self.hidden_weight}"
            )


def heal(
    student_dir: str | os.PathLike[str],
    teacher_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: HealOptions,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Distil ``teacher_dir`` into ``student_dir`` for ``options.steps`` steps and write the
    healed checkpoint to ``out`` (rank 0). ``stop_after`` ends the run early after that many
    steps, as an interruption would (tests). Returns the log: loss per step."""
    student_dir, teacher_dir = Path(student_dir), Path(teacher_dir)
    out = Path(out).resolve()
    if out != student_dir.resolve():  # healing in place replaces the student, as asked
        out = check_output(out, [teacher_dir, student_dir])
    device = _device(options.device)
    world, rank = _init_distributed(device)
    torch.manual_seed(options.seed)
    stored = _stored_dtype(student_dir)
    student = _load(student_dir, device, world, train=True)
    teacher = _load(teacher_dir, device, world, train=False)
    _check_pair(student, teacher, options)
    optimizer = torch.optim.AdamW(student.parameters(), lr=options.lr)
    tokens = _sequences(student_dir, student.config.vocab_size, options)
    state_dir = heal_state(out)
    fingerprint = {
        "student": str(student_dir.resolve()),
        "student_config": (student_dir / "config.json").read_text(encoding="utf-8"),
        "teacher": str(teacher_dir.resolve()),
        "world": world,
        **{k: v for k, v in asdict(options).items() if k != "progress"},
    }
    log = _resume(state_dir, fingerprint, student, optimizer, rank)
    last = options.steps if stop_after is None else min(options.steps, stop_after)
    started = time.perf_counter()
    for step in range(len(log["loss"]), last):
        batch = _batch(tokens, step, rank, world, options.batch_size).to(device)
        loss = _distillation_loss(student, teacher, batch, options)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        log["loss"].append(_mean_over_ranks(loss.detach(), world))
        if options.progress and rank == 0:
            print(f"heal step {step + 1}/{options.steps}: loss {log['loss'][-1]:.5f}", flush=True)
        if (step + 1) % options.checkpoint_every == 0 or step + 1 == last:
            _save_state(state_dir, fingerprint, student, optimizer, log, rank)
    log["seconds"] = time.perf_counter() - started
    if len(log["loss"]) == options.steps:
        _write(student, student_dir, out, stored, rank)
        if rank == 0:
            shutil.rmtree(state_dir, ignore_errors=True)
    if world > 1:
        dist.barrier()
    return log


def heal_state(out: Path) -> Path:
    """Where healing keeps its checkpoint: beside the output folder."""
    return out.parent / f".{out.name}.{STATE}"


def _init_distributed(device: torch.device) -> tuple[int, int]:
    """(world size, rank); under torchrun the process group on the device's backend (NCCL for
    CUDA, gloo for CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 1, 0
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    return dist.get_world_size(), dist.get_rank()


def _device(name: str) -> torch.device:
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def _stored_dtype(directory: Path) -> torch.dtype:
    """The dtype the checkpoint's weights are stored in (the healed one is written in it)."""
    with Checkpoint(directory) as checkpoint:
        code = checkpoint.dtype_code(checkpoint.family.embedding)
    return next(dtype for dtype, c in CODES.items() if c == code)


def _load(directory: Path, device: torch.device, world: int, train: bool) -> nn.Module:
    """The model in float32. Under torchrun it is read on the CPU and sharded layer by layer
    (each decoder layer goes to the device whole only while FSDP shards it), so a device holds
    its shards, not the model; the host holds one copy per rank while loading."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=torch.float32)
    if world > 1:
        _shard(model)
    model.to(device)
    model.train(train)
    model.requires_grad_(train)
    return model


def _check_pair(student: nn.Module, teacher: nn.Module, options: HealOptions) -> None:
    if student.config.vocab_size != teacher.config.vocab_size:
        raise ConfigError(
            f"student vocabulary {student.config.vocab_size} != teacher vocabulary "
            f"{teacher.config.vocab_size}; fix: distil from the model that was pruned"
        )
    if options.hidden_weight and student.config.hidden_size != teacher.config.hidden_size:
        raise ConfigError(
            f"hidden_weight needs the same hidden width (student {student.config.hidden_size}, "
            f"teacher {teacher.config.hidden_size}); fix: hidden_weight=0 after width pruning"
        )


def _shard(model: nn.Module) -> None:
    from torch.distributed.fsdp import fully_shard

    for layer in model.model.layers:
        fully_shard(layer)
    fully_shard(model)


def _sequences(directory: Path, vocab_size: int, options: HealOptions) -> torch.Tensor:
    sets = token_sets(
        read_text(options.calibration), directory, vocab_size, options.sequences, 0,
        options.seq_len, options.sequences,
    )  # fmt: skip
    return sets.calibration[0]


def _batch(tokens: torch.Tensor, step: int, rank: int, world: int, size: int) -> torch.Tensor:
    """Sequences for (step, rank): consecutive, disjoint across ranks, cycling the set."""
    start = (step * world + rank) * size
    index = torch.arange(start, start + size) % tokens.shape[0]
    return tokens[index]


def _distillation_loss(
    student: nn.Module, teacher: nn.Module, batch: torch.Tensor, options: HealOptions
) -> torch.Tensor:
    hidden = options.hidden_weight > 0
    with torch.no_grad():
        target = teacher(input_ids=batch, output_hidden_states=hidden, use_cache=False)
    output = student(input_ids=batch, output_hidden_states=hidden, use_cache=False)
    t = options.temperature
    log_p = torch.log_softmax(output.logits.float() / t, dim=-1)
    log_q = torch.log_softmax(target.logits.float() / t, dim=-1)
    kl = (log_q.exp() * (log_q - log_p)).sum(-1).mean() * t * t
    if not hidden:
        return kl
    mse = nn.functional.mse_loss(output.hidden_states[-1], target.hidden_states[-1])
    return kl + options.hidden_weight * mse


def _mean_over_ranks(value: torch.Tensor, world: int) -> float:
    if world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= world
    return float(value)


def _options(**kwargs: Any) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True, **kwargs)


def _save_state(
    folder: Path,
    fingerprint: dict[str, Any],
    student: nn.Module,
    optimizer: torch.optim.Optimizer,
    log: dict[str, Any],
    rank: int,
) -> None:
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    model_state = get_model_state_dict(student, options=_options())
    optim_state = get_optimizer_state_dict(student, optimizer, options=_options())
    if rank != 0:
        return
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.contiguous() for k, v in model_state.items()}
    for fqn, values in optim_state["state"].items():
        tensors |= {f"optim.{fqn}.{k}": v.contiguous() for k, v in values.items()}
    groups = optim_state["param_groups"]
    _drop_shared(tensors)
    info = {"fingerprint": fingerprint, "log": log, "param_groups": groups}
    tmp = folder / f".{STATE_FILE}.tmp"  # one file, replaced at once: weights and log agree
    save_file(tensors, str(tmp), metadata={"info": json.dumps(info)})
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, folder / STATE_FILE)


def _drop_shared(tensors: dict[str, torch.Tensor]) -> None:
    """Tied weights appear under two names; safetensors stores one (set_* re-ties them)."""
    seen: dict[int, str] = {}
    for key in list(tensors):
        pointer = tensors[key].data_ptr()
        if pointer in seen and tensors[key].numel():
            tensors[key] = tensors[key].clone()
        seen[pointer] = key


def _resume(
    folder: Path,
    fingerprint: dict[str, Any],
    student: nn.Module,
    optimizer: torch.optim.Optimizer,
    rank: int,
) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import (
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    path = folder / STATE_FILE
    info = _saved_info(path, fingerprint) if rank == 0 else None
    broadcast = dist.is_initialized() and dist.get_world_size() > 1
    losses = _broadcast_losses(None if info is None else info["log"]["loss"], broadcast)
    if losses is None:
        return {"loss": []}
    tensors = load_file(str(path)) if rank == 0 else {}
    model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    optim_state: dict[str, Any] = {}
    if rank == 0:  # the optimizer's own nested form, parameters named by their paths
        per_param: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                fqn, _, name = key[6:].rpartition(".")
                per_param.setdefault(fqn, {})[name] = value
        optim_state = {"state": per_param, "param_groups": info["param_groups"]}
    set_model_state_dict(student, model_state, options=_options(broadcast_from_rank0=broadcast))
    set_optimizer_state_dict(
        student, optimizer, optim_state, options=_options(broadcast_from_rank0=broadcast)
    )
    return {"loss": losses}


def _saved_info(path: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state's JSON when it belongs to this run; None otherwise (or unreadable)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            info = json.loads((handle.metadata() or {})["info"])
    except (OSError, KeyError, ValueError, RuntimeError):  # absent or damaged: start over
        return None
    return info if info.get("fingerprint") == json.loads(json.dumps(fingerprint)) else None


def _broadcast_losses(losses: list[float] | None, broadcast: bool) -> list[float] | None:
    """Rank 0's decision (resume with these losses, or start over) on every rank."""
    if not broadcast:
        return losses
    count = torch.tensor([-1 if losses is None else len(losses)], dtype=torch.long)
    dist.broadcast(count, 0)
    if int(count) < 0:
        return None
    values = torch.tensor(losses or [0.0] * int(count), dtype=torch.float64)
    dist.broadcast(values, 0)
    return values.tolist()


def _write(student: nn.Module, source: Path, out: Path, dtype: torch.dtype, rank: int) -> None:
    """The healed student as a Hugging Face checkpoint in the student's stored dtype (rank 0
    gathers and writes)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict
    from transformers import AutoModelForCausalLM

    state = get_model_state_dict(student, options=_options())
    if rank != 0:
        return
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(student.config)
    plain.load_state_dict(state, assign=True)
    plain.tie_weights()
    plain.to(dtype)
    staging = staging_for(out)
    try:
        plain.save_pretrained(staging)
        for name in (*COPIED, *REPORT_FILES):  # the prune's report stays with the checkpoint
            if (source / name).is_file() and not (staging / name).exists():
                shutil.copyfile(source / name, staging / name)
        finish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
