"""Token batches through a checkpoint one decoder layer at a time: the layer is loaded, every
cached hidden state runs through it, the observer sees its inputs and outputs, and the layer
goes back to the meta device. Peak memory is one layer plus the cached activations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from prunekit.llm.checkpoint import Checkpoint
from prunekit.llm.memory import release_freed_memory

# observer(layer index, batch index, layer input, layer output, layer module)
Observer = Callable[[int, int, torch.Tensor, torch.Tensor], None]


class _Recorder(nn.Module):
    """Stands in for a decoder layer: records the arguments the model passes it, returns its
    input unchanged (or a replayed output)."""

    def __init__(self, index: int, calls: dict[int, tuple[Any, dict[str, Any]]]) -> None:
        super().__init__()
        self.index, self.calls = index, calls
        self.replay: torch.Tensor | None = None

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        self.calls[self.index] = (hidden_states, dict(kwargs, _args=args))
        return hidden_states if self.replay is None else self.replay


class LayerStream:
    """A checkpoint's skeleton on meta whose decoder layers are materialised one at a time."""

    def __init__(self, checkpoint: Checkpoint, device: str | torch.device, dtype: torch.dtype):
        self.checkpoint, self.device, self.dtype = checkpoint, torch.device(device), dtype
        self.model = checkpoint.skeleton(dtype)
        self.model.eval()
        self.layers: nn.ModuleList = self.model.get_submodule(checkpoint.family.layers)
        self.base = self.model.get_submodule(checkpoint.family.layers.rsplit(".", 1)[0])
        self._rebuild_buffers()

    def _rebuild_buffers(self) -> None:
        """Buffers outside the layers that the model computes rather than stores (rotary
        frequencies, Gemma's embedding scale): computed once by transformers' own
        initialisation on the real device, and put back after every load."""
        self._computed: dict[str, dict[str, torch.Tensor]] = {}
        layers_name = self.checkpoint.family.layers.rsplit(".", 1)[1]
        for name, module in self.base.named_children():
            stored = set(module.state_dict())
            computed = [b for b, _ in module.named_buffers() if b not in stored]
            if name == layers_name or not computed:
                continue
            module.to_empty(device=self.device)
            self.model._init_weights(module)
            path = self._path_of(module)
            self._computed[path] = {b: module.get_buffer(b).detach().clone() for b in computed}
            module.to_empty(device="meta")
            self._restore(path)

    def _restore(self, path: str) -> None:
        module = self.model.get_submodule(path)
        for name, value in self._computed.get(path, {}).items():
            owner, _, leaf = name.rpartition(".")
            module.get_submodule(owner)._buffers[leaf] = value

    @contextmanager
    def loaded(self, path: str) -> Iterator[nn.Module]:
        """The submodule at ``path`` with its weights, put back on meta afterwards."""
        module = self.model.get_submodule(path)
        self.checkpoint.load(module, path + ".", self.device, self.dtype)
        self._restore(path)
        try:
            yield module
        finally:
            module.to_empty(device="meta")
            self._restore(path)
            release_freed_memory()

    @contextmanager
    def _recording(self) -> Iterator[list[_Recorder]]:
        originals = list(self.layers)
        calls: dict[int, tuple[Any, dict[str, Any]]] = {}
        recorders = [_Recorder(i, calls) for i in range(len(originals))]
        for i, recorder in enumerate(recorders):
            self.layers[i] = recorder
        try:
            yield recorders
        finally:
            for i, layer in enumerate(originals):
                self.layers[i] = layer

    @contextmanager
    def _ends(self, head: bool) -> Iterator[list[_Recorder]]:
        """The model with its embedding, final norm (and head) loaded and stand-in layers."""
        embedding = self.checkpoint.family.embedding.rsplit(".", 1)[0]
        norm = self._path_of(self.base.get_submodule("norm"))
        with self._recording() as recorders, self.loaded(embedding), self.loaded(norm):
            if not head:
                yield recorders
                return
            with self.loaded("lm_head"):
                yield recorders

    def embed(self, batches: list[torch.Tensor]) -> list[tuple[torch.Tensor, list[dict[str, Any]]]]:
        """Per token batch: the first layer's input, and the arguments the model passes each
        layer (masks, rotary embeddings), found by running the model with stand-in layers."""
        out = []
        with self._ends(head=False) as recorders, torch.no_grad():
            for tokens in batches:
                self.base(input_ids=tokens.to(self.device), use_cache=False)
                calls = recorders[0].calls
                out.append((calls[0][0], [calls[i][1] for i in range(len(self.layers))]))
                calls.clear()
        return out

    def run_layer(
        self, layer: nn.Module, hidden: torch.Tensor, kwargs: dict[str, Any]
    ) -> torch.Tensor:
        args = kwargs.get("_args", ())
        rest = {k: v for k, v in kwargs.items() if k != "_args"}
        with torch.no_grad():
            out = layer(hidden, *args, **rest)
        return out[0] if isinstance(out, tuple) else out

    def loss(self, batches: list[torch.Tensor], finals: list[torch.Tensor]) -> tuple[float, int]:
        """Summed next-token cross-entropy of token batches whose last layer outputs are
        ``finals`` (the model's own norm, head and logit soft-capping apply), and the number of
        predicted tokens."""
        total, count = 0.0, 0
        with self._ends(head=True) as recorders, torch.no_grad():
            for tokens, final in zip(batches, finals, strict=True):
                recorders[-1].replay = final
                tokens = tokens.to(self.device)
                out = self.model(input_ids=tokens, labels=tokens, use_cache=False)
                n = tokens.shape[0] * (tokens.shape[1] - 1)
                total, count = total + float(out.loss) * n, count + n
        return total, count

    def _path_of(self, module: nn.Module) -> str:
        for name, candidate in self.model.named_modules():
            if candidate is module:
                return name
        raise KeyError(type(module).__name__)


def layer_path(checkpoint: Checkpoint, index: int) -> str:
    return f"{checkpoint.family.layers}.{index}"
