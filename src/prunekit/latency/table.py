"""Per-layer latency tables: the median time of one convolution or linear layer of a given shape
on one input shape, measured with ``torch.utils.benchmark`` on a fresh layer of that shape and
cached on disk in a JSON file per device, dtype, thread count and torch version.

Only the layers whose shapes pruning changes and whose cost dominates are timed (``TIMED``);
everything else (normalisation, activations, pooling, attention's matrix products) is the rest
of the model, which ``predict`` scales with the size of the activations.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import re
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunekit.core.budget.metrics import quiet_import_benchmark
from prunekit.core.model.modes import num_threads
from prunekit.io.atomic import write_json
from prunekit.zoo.cache import cache_dir

TIMED = (nn.Conv1d, nn.Conv2d, nn.Linear)
MIN_RUN_TIME = 0.02  # seconds of timed calls per layer (at least MIN_BLOCKS blocks)
BLOCK_TIME = 1e-3  # a block repeats the call until it lasts about this long
MIN_BLOCKS, MAX_BLOCKS = 5, 50
FORMAT = 2  # 2: blocks timed by layer_seconds


@dataclass(frozen=True)
class LayerShape:
    """What a timed layer's latency depends on: its kind, its constructor arguments and the
    shape of its input (batch included)."""

    kind: str
    inputs: int
    outputs: int
    bias: bool
    input_shape: tuple[int, ...]
    kernel: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    padding: Any = ()
    dilation: tuple[int, ...] = ()
    groups: int = 1

    def reading(self, channels: int) -> LayerShape:
        """This layer reading ``channels`` input channels (features) instead."""
        shape = list(self.input_shape)
        shape[-1 if self.kind == "linear" else 1] = channels
        return dataclasses.replace(self, inputs=channels, input_shape=tuple(shape))

    def key(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def build(self, device: torch.device, dtype: torch.dtype) -> tuple[nn.Module, torch.Tensor]:
        """A stock layer of this shape with random weights, and a random input for it."""
        options = {"device": device, "dtype": dtype, "bias": self.bias}
        if self.kind == "linear":
            layer: nn.Module = nn.Linear(self.inputs, self.outputs, **options)
        else:
            conv = nn.Conv1d if self.kind == "conv1d" else nn.Conv2d
            padding = self.padding if isinstance(self.padding, str) else tuple(self.padding)
            layer = conv(
                self.inputs,
                self.outputs,
                self.kernel,
                self.stride,
                padding,
                self.dilation,
                self.groups,
                **options,
            )
        return layer, torch.randn(self.input_shape, device=device, dtype=dtype)


def shape_of(module: nn.Module, tensor: torch.Tensor) -> LayerShape | None:
    """The shape of a timed layer called on ``tensor``; None for any other module, and for a
    subclass with its own forward (timm's Conv2dSame pads in its forward: a stock layer of its
    arguments would compute something else), which counts with the rest of the model."""
    if not any(type(module).forward is kind.forward for kind in TIMED):
        return None
    shape = tuple(int(s) for s in tensor.shape)
    if isinstance(module, nn.Linear):
        return LayerShape(
            "linear", module.in_features, module.out_features, module.bias is not None, shape
        )
    if isinstance(module, nn.Conv1d | nn.Conv2d) and module.padding_mode == "zeros":
        padding = module.padding if isinstance(module.padding, str) else tuple(module.padding)
        return LayerShape(
            "conv1d" if isinstance(module, nn.Conv1d) else "conv2d",
            module.in_channels,
            module.out_channels,
            module.bias is not None,
            shape,
            tuple(module.kernel_size),
            tuple(module.stride),
            padding,
            tuple(module.dilation),
            module.groups,
        )
    return None


def device_name(device: torch.device) -> str:
    """The processor a table holds times of: the GPU's name, or the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or device.type


def layer_seconds(layer: nn.Module, tensor: torch.Tensor, threads: int) -> float:
    """The median time of ``layer(tensor)`` over blocks of calls timed with
    ``torch.utils.benchmark``: after a warm-up call, a block repeats the call for about
    ``BLOCK_TIME`` and ``MIN_BLOCKS`` to ``MAX_BLOCKS`` blocks fill ``MIN_RUN_TIME``.
    (``Timer.blocked_autorange`` spends 5-20 times ``MIN_RUN_TIME`` on choosing its block size
    for a layer this short; a table measures hundreds of them.)"""
    benchmark = quiet_import_benchmark()

    def synchronize() -> None:
        if tensor.is_cuda:
            torch.cuda.synchronize(tensor.device)

    def call() -> None:
        layer(tensor)

    with torch.inference_mode(), num_threads(threads):
        call()  # warm-up: allocations, kernel choice
        synchronize()
        started = time.perf_counter()
        call()
        synchronize()  # the Timer synchronises CUDA itself around each block
        once = max(time.perf_counter() - started, 1e-7)
        number = max(1, round(BLOCK_TIME / once))
        blocks = min(MAX_BLOCKS, max(MIN_BLOCKS, round(MIN_RUN_TIME / (once * number))))
        timer = benchmark.Timer(stmt="call()", globals={"call": call}, num_threads=threads)
        return statistics.median(timer.timeit(number).mean for _ in range(blocks))


class LatencyTable:
    """Measured layer latencies for one device, dtype and thread count, read from and written
    to ``folder`` (default: ``$PRUNEKIT_CACHE/latency``, else ``~/.cache/prunekit/latency``).
    ``refresh=True`` measures every shape it is asked for again (the other entries stay in
    the file); two processes writing one table at once keep the entries of the last to write.
    ``measured`` and ``seconds`` count this table's new measurements; ``cached`` the entries
    read from disk."""

    def __init__(
        self,
        device: torch.device,
        dtype: torch.dtype,
        threads: int,
        folder: str | Path | None = None,
        refresh: bool = False,
    ) -> None:
        self.device, self.dtype, self.threads = device, dtype, threads
        self.condition = {
            "device": device_name(device),
            "device_type": device.type,
            "dtype": str(dtype).removeprefix("torch."),
            "threads": threads,
            "torch": torch.__version__,
        }
        name = "-".join(str(v) for v in self.condition.values())
        root = Path(folder) if folder is not None else cache_dir("latency")
        self.path = root / (re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-") + ".json")
        self.entries: dict[str, float] = {} if refresh else self._read()
        self._kept = self._read() if refresh else {}  # written back under the new times
        self.cached, self.measured, self.seconds = len(self.entries), 0, 0.0
        self._dirty = False

    def _read(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # none yet, or damaged: measured again
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}
        if data.get("condition") != self.condition or not isinstance(data.get("entries"), dict):
            return {}
        return {str(k): float(v) for k, v in data.get("entries", {}).items()}

    def latency_ms(self, shape: LayerShape) -> float:
        key = shape.key()
        if key in self.entries:
            return self.entries[key]
        started = time.perf_counter()
        layer, tensor = shape.build(self.device, self.dtype)
        median = layer_seconds(layer, tensor, self.threads) * 1e3
        self.seconds += time.perf_counter() - started
        self.measured += 1
        self.entries[key] = median
        self._dirty = True
        return median

    def save(self) -> None:
        """Write the table (atomically) when it gained entries."""
        if self._dirty:
            entries = {**self._kept, **self.entries}
            data = {"format": FORMAT, "condition": self.condition, "entries": entries}
            write_json(self.path, data)
            self._dirty = False

    def stats(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "cached": self.cached,
            "measured": self.measured,
            "build_seconds": round(self.seconds, 3),
        }
