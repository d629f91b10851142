"""What the layer-sequential pass records, one layer at a time, in one pass:

- Block Influence of each layer: 1 - mean cosine(input, output) over tokens (ShortGPT);
- the angular distance of every run of ``run_length`` layers: arccos(cos(input of the first,
  output of the last)) / pi, averaged over tokens (Gromov et al.);
- each layer output's linear Gram matrix per batch, from which SGLP's minibatch CKA matrix is
  exact (the same sums as ``MinibatchCKA`` on the whole model);
- width importance from activations (Minitron): per attention head the root mean square of its
  slice of ``o_proj``'s input, per MLP neuron of ``down_proj``'s input, per hidden channel of
  the normalised inputs of the attention and the MLP, summed over layers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from prunekit.methods.layers.scores import mean_cosine
from prunekit.methods.sglp.cka import MinibatchCKA, gram

ATTENTION_OUT = ("self_attn.o_proj",)
MLP_OUT = ("mlp.down_proj",)
ATTENTION_IN = ("self_attn.q_proj", "self_attn.qkv_proj")
MLP_IN = ("mlp.gate_proj", "mlp.gate_up_proj", "mlp.up_proj")


@dataclass
class Scores:
    """Accumulated scores; every field a tensor so the state saves as safetensors."""

    layers: int
    heads: int
    run_length: int
    batches: int
    block_influence: torch.Tensor = field(init=False)
    angular: torch.Tensor = field(init=False)
    grams: dict[str, torch.Tensor] = field(default_factory=dict)
    width: dict[str, torch.Tensor] = field(default_factory=dict)
    window: dict[int, deque[torch.Tensor]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.block_influence = torch.zeros(self.layers, dtype=torch.float64)
        runs = self.layers - self.run_length + 1 if self.run_length > 0 else 0
        self.angular = torch.zeros(max(runs, 0), dtype=torch.float64)

    # --- one layer, one batch ---------------------------------------------------------------
    def observe(self, index: int, batch: int, x: torch.Tensor, y: torch.Tensor) -> None:
        self.block_influence[index] += float(1 - mean_cosine(x, y)) / self.batches
        self.grams[f"{index}.{batch}"] = gram(y).cpu()
        if self.run_length > 0:
            window = self.window.setdefault(batch, deque(maxlen=self.run_length + 1))
            if not window:
                window.append(x.detach().cpu())
            window.append(y.detach().cpu())
            start = index + 1 - self.run_length
            if start >= 0:
                cos = mean_cosine(window[0], window[-1]).clamp(-1, 1)
                self.angular[start] += float(torch.arccos(cos) / torch.pi) / self.batches

    def width_hooks(self, index: int, layer: nn.Module) -> list[RemovableHandle]:
        """Hooks that add the layer's activation statistics to ``width``."""
        handles = []
        for paths, kind in ((ATTENTION_OUT, "heads"), (MLP_OUT, "neurons")):
            module = _first(layer, paths)
            handles.append(module.register_forward_pre_hook(self._adder(f"{kind}.{index}")))
        for paths in (ATTENTION_IN, MLP_IN):
            module = _first(layer, paths)
            handles.append(module.register_forward_pre_hook(self._adder("hidden")))
        return handles

    def _adder(self, key: str):
        def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0].detach().reshape(-1, args[0].shape[-1]).double()
            total = (x * x).sum(0).cpu()
            self.width[key] = self.width[key] + total if key in self.width else total
            self.width[f"tokens.{key}"] = (
                self.width.get(f"tokens.{key}", torch.zeros((), dtype=torch.float64)) + x.shape[0]
            )

        return hook

    # --- results ----------------------------------------------------------------------------
    def cka(self, estimator: str = "unbiased") -> torch.Tensor:
        """SGLP's CKA matrix between layer outputs, layers x layers."""
        accumulator = MinibatchCKA(self.layers, estimator)
        for batch in range(self.batches):
            accumulator.update_grams([self.grams[f"{i}.{batch}"] for i in range(self.layers)])
        return accumulator.matrix()

    def head_scores(self, index: int) -> torch.Tensor:
        """Root mean square of each head's slice of o_proj's input (heads of layer ``index``)."""
        squares = self.width[f"heads.{index}"] / self.width[f"tokens.heads.{index}"]
        return squares.reshape(self.heads, -1).sum(1).sqrt()

    def neuron_scores(self, index: int) -> torch.Tensor:
        return (self.width[f"neurons.{index}"] / self.width[f"tokens.neurons.{index}"]).sqrt()

    def hidden_scores(self) -> torch.Tensor:
        return (self.width["hidden"] / self.width["tokens.hidden"]).sqrt()

    # --- state ------------------------------------------------------------------------------
    def state(self) -> dict[str, torch.Tensor]:
        state = {"block_influence": self.block_influence, "angular": self.angular}
        state |= {f"grams.{k}": v for k, v in self.grams.items()}
        state |= {f"width.{k}": v for k, v in self.width.items()}
        for batch, window in self.window.items():
            state |= {f"window.{batch}.{i}": t.clone() for i, t in enumerate(window)}
        return {k: v.contiguous() for k, v in state.items()}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.block_influence = state["block_influence"]
        self.angular = state["angular"]
        windows: dict[int, dict[int, torch.Tensor]] = {}
        for key, value in state.items():
            kind, _, rest = key.partition(".")
            if kind == "grams":
                self.grams[rest] = value
            elif kind == "width":
                self.width[rest] = value
            elif kind == "window":
                batch, position = rest.split(".")
                windows.setdefault(int(batch), {})[int(position)] = value
        for batch, parts in windows.items():
            window: deque[torch.Tensor] = deque(maxlen=self.run_length + 1)
            window.extend(parts[i] for i in sorted(parts))
            self.window[batch] = window


def _first(layer: nn.Module, paths: tuple[str, ...]) -> nn.Module:
    for path in paths:
        try:
            return layer.get_submodule(path)
        except AttributeError:
            continue
    raise AttributeError(f"{type(layer).__name__} has none of {', '.join(paths)}")
