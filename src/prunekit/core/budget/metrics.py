"""Params, MACs and latency of a model, and ratios between two models.

MACs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2): convolutions,
matrix products and attention, not normalisation or activations. Two CPU paths hide work from
it and are opened while counting: ``nn.MultiheadAttention``'s fused fast path (its projections
and attention run as one uncounted op; the fast path is switched off while counting) and
scaled-dot-product attention's CPU kernel (given the same formula as the GPU kernels).
Latency is the median of ``torch.utils.benchmark.Timer.blocked_autorange`` with threads, batch,
device and dtype recorded.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from prunekit.core.model.inputs import (
    ExampleInputs,
    batch_size_of,
    call_model,
    describe_inputs,
    model_device,
    model_dtype,
)
from prunekit.core.model.modes import eval_mode, num_threads
from prunekit.errors import PrunekitError

MAC_COUNTER = "torch.utils.flop_counter (FLOPs/2)"


@dataclass(frozen=True)
class Latency:
    """A latency measurement and the conditions it was taken under."""

    median_ms: float
    iqr_ms: float
    repeats: int
    threads: int
    batch_size: int
    device: str
    dtype: str

    def __str__(self) -> str:
        return (
            f"{self.median_ms:.3f} ms median (IQR {self.iqr_ms:.3f} ms, {self.repeats} repeats, "
            f"batch {self.batch_size}, {self.threads} threads, {self.device}, {self.dtype})"
        )


@dataclass(frozen=True)
class Ratios:
    """``after / before`` for each metric; ``speedup`` is ``before / after`` latency."""

    params: float
    macs: float
    latency: float | None

    @property
    def speedup(self) -> float | None:
        return None if not self.latency else 1.0 / self.latency

    def __str__(self) -> str:
        text = f"params x{self.params:.4f}, MACs x{self.macs:.4f}"
        if self.speedup is not None:
            text += f", speedup {self.speedup:.2f}x"
        return text


@dataclass(frozen=True)
class Metrics:
    """What a model costs: parameters, buffers, MACs of one forward pass on ``inputs`` (their
    shapes and dtypes, batch ``batch_size``) and, optionally, measured latency."""

    params: int
    buffers: int
    macs: int
    latency: Latency | None = None
    mac_counter: str = MAC_COUNTER
    inputs: str = ""
    batch_size: int = 0

    @property
    def latency_ms(self) -> float | None:
        return None if self.latency is None else self.latency.median_ms

    def ratio(self, before: Metrics) -> Ratios:
        """This model's metrics relative to ``before`` (usually the original model). MACs grow
        with the batch, so two measurements at different batch sizes are refused."""
        if self.batch_size and before.batch_size and self.batch_size != before.batch_size:
            raise PrunekitError(
                f"MACs measured at batch {before.batch_size} {before.inputs} and batch "
                f"{self.batch_size} {self.inputs} cannot be compared; fix: measure both models "
                "on the same example inputs"
            )
        latency = None
        if self.latency is not None and before.latency is not None:
            latency = self.latency.median_ms / before.latency.median_ms
        return Ratios(
            params=_safe_div(self.params, before.params),
            macs=_safe_div(self.macs, before.macs),
            latency=latency,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metrics:
        latency = data.get("latency")
        return cls(
            params=int(data["params"]),
            buffers=int(data["buffers"]),
            macs=int(data["macs"]),
            latency=Latency(**latency) if latency else None,
            mac_counter=str(data.get("mac_counter", MAC_COUNTER)),
            inputs=str(data.get("inputs", "")),
            batch_size=int(data.get("batch_size", 0)),
        )

    def __str__(self) -> str:
        text = f"params {self.params:,} | MACs {format_macs(self.macs)} ({self.macs:,})"
        if self.inputs:
            text += f" on inputs {self.inputs}"
        if self.latency is not None:
            text += f" | latency {self.latency}"
        return text


def _safe_div(a: float, b: float) -> float:
    return float("nan") if b == 0 else a / b


def format_macs(macs: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if macs >= scale:
            return f"{macs / scale:.2f} {unit}MACs"
    return f"{macs} MACs"


def count_params(model: nn.Module) -> int:
    """Parameters, each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters())


def count_buffers(model: nn.Module) -> int:
    return sum(b.numel() for b in model.buffers())


def count_macs(model: nn.Module, example_inputs: ExampleInputs) -> int:
    """Multiply-accumulates of one forward pass on ``example_inputs`` (eval mode, no grad)."""
    counter = FlopCounterMode(display=False, custom_mapping=_UNCOUNTED_KERNELS)
    fast_path = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with eval_mode(model), torch.no_grad(), counter:
            call_model(model, example_inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)
    return int(counter.get_total_flops()) // 2


def _attention_flops(
    query_shape: torch.Size, key_shape: torch.Size, value_shape: torch.Size, *_: Any, **__: Any
) -> int:
    """FLOPs of softmax(Q K^T) V: two batched matrix products (FlopCounterMode's formula)."""
    *batch, queries, width = query_shape
    keys, value_width = key_shape[-2], value_shape[-1]
    heads = math.prod(batch)
    return 2 * heads * queries * keys * (width + value_width)


_UNCOUNTED_KERNELS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _attention_flops}


def measure_latency(
    model: nn.Module,
    example_inputs: ExampleInputs,
    threads: int | None = None,
    min_run_time: float = 1.0,
) -> Latency:
    """Median forward latency in eval mode under ``torch.inference_mode``."""
    with num_threads(threads) as used_threads:
        result = benchmark_module(model, example_inputs, used_threads, min_run_time)
    return Latency(
        median_ms=result.median * 1e3,
        iqr_ms=result.iqr * 1e3,
        repeats=len(result.times),
        threads=used_threads,
        batch_size=batch_size_of(example_inputs),
        device=str(model_device(model)),
        dtype=str(model_dtype(model)).removeprefix("torch."),
    )


def benchmark_module(
    model: nn.Module,
    example_inputs: ExampleInputs,
    threads: int,
    min_run_time: float,
    warm_up: bool = True,
) -> Any:
    """``torch.utils.benchmark``'s measurement (``.median``, ``.iqr``, ``.times`` in seconds)
    of ``model``'s forward in eval mode under ``torch.inference_mode`` with ``threads``
    intra-op threads, after one warm-up call (which also fails clearly on unfit inputs) unless
    ``warm_up=False`` (a model timed again right after)."""
    benchmark = quiet_import_benchmark()

    def forward() -> None:
        with torch.inference_mode():
            call_model(model, example_inputs)

    with eval_mode(model), num_threads(threads):
        if warm_up:
            forward()
        timer = benchmark.Timer(stmt="forward()", globals={"forward": forward}, num_threads=threads)
        return timer.blocked_autorange(min_run_time=min_run_time)


def quiet_import_benchmark() -> ModuleType:
    """torch.utils.benchmark pulls in the C++ extension tooling, which logs a CUDA_HOME warning
    on machines without CUDA; it is irrelevant to timing, so it is silenced during the import."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from torch.utils import benchmark
    finally:
        logger.setLevel(level)
    return benchmark


def measure(
    model: nn.Module,
    example_inputs: ExampleInputs,
    latency: bool = False,
    threads: int | None = None,
    min_run_time: float = 1.0,
) -> Metrics:
    """Params, buffers and MACs of ``model`` on ``example_inputs``; latency when asked.

    The model is left exactly as it was (training flags restored, no parameter touched).
    """
    return Metrics(
        params=count_params(model),
        buffers=count_buffers(model),
        macs=count_macs(model, example_inputs),
        latency=measure_latency(model, example_inputs, threads, min_run_time) if latency else None,
        inputs=describe_inputs(example_inputs),
        batch_size=batch_size_of(example_inputs),
    )
