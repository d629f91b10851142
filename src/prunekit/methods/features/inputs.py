"""The two kinds of input feature that sparse training scores, zeroes and finally removes:
columns/channels read by the first layers, and k x k patches of an image seen through an
input-mask layer (a trainable gate per patch in front of the first conv)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prunekit.core.edit.block_edits import ReplaceEdit
from prunekit.core.edit.edits import ChannelEdit
from prunekit.core.edit.input_patches import patch_front
from prunekit.core.edit.inputs_edit import FeatureSelector, input_feature_edits, input_readers
from prunekit.core.edit.surgery import set_module
from prunekit.core.model.inputs import ExampleInputs, tensors_of
from prunekit.errors import ConfigError
from prunekit.methods.features.patch_gate import PatchGate


def first_readers(model: nn.Module, example_inputs: ExampleInputs) -> list[str]:
    readers = input_readers(model, example_inputs)
    if not readers:
        first = next((p for p, m in model.named_modules() if not list(m.children())), "?")
        raise ConfigError(
            f"feature selection needs a first Linear or Conv layer that reads the input; the "
            f"first layer of {type(model).__name__} is {first!r}, or the input is transformed "
            "before any layer reads it"
        )
    return readers


class Columns:
    """Input columns of the first Linear layers, or input channels of the first convs."""

    def __init__(self, model: nn.Module, example_inputs: ExampleInputs) -> None:
        readers = first_readers(model, example_inputs)
        self.modules = [model.get_submodule(p) for p in readers]
        kinds = {isinstance(m, nn.Linear) for m in self.modules}
        if len(kinds) > 1:
            raise ConfigError(f"the input is read by both Linear and Conv layers ({readers})")
        if any(getattr(m, "groups", 1) != 1 for m in self.modules):
            raise ConfigError(
                f"first conv layers {readers} are grouped; feature selection of input channels "
                "needs groups=1 (or select input patches: FeatureConfig(patch=...))"
            )
        self.axis = "flat" if kinds == {True} else "channel"
        self.size = int(self.modules[0].weight.shape[1])
        self.example_inputs = example_inputs

    def parameters(self) -> list[nn.Parameter]:
        return []

    def state(self) -> dict[str, torch.Tensor]:
        """What a training checkpoint must keep besides the model's own state: nothing here."""
        return {}

    def load_state(self, saved: dict[str, torch.Tensor]) -> None:
        """Restore ``state()``."""

    def scores(self, criterion: str) -> torch.Tensor:
        total = None
        for module in self.modules:
            w = module.weight.detach()
            if criterion == "taylor":
                if module.weight.grad is None:
                    continue
                w = (w * module.weight.grad).abs()
            else:
                w = w.abs()
            per = w.transpose(0, 1).reshape(w.shape[1], -1).mean(1)  # one score per column
            total = per if total is None else total + per
        return torch.zeros(self.size) if total is None else total

    @torch.no_grad()
    def zero(self, masked: torch.Tensor) -> None:
        for module in self.modules:
            module.weight[:, masked] = 0

    def selector(self, shape: tuple[int, ...], kept: list[int], names: Any) -> FeatureSelector:
        return FeatureSelector(shape, self.axis, tuple(kept), names)

    def edits_before(self, model: nn.Module, kept: list[int]) -> list[ChannelEdit]:
        return input_feature_edits(model, kept, self.example_inputs)

    def finish(self, model: nn.Module, kept: list[int]) -> list[ReplaceEdit]:
        return []

    def close(self) -> None:
        return None


class Patches:
    """k x k regions of an image input, gated during training by one value per patch before the
    only layer that reads the input (a conv). Removal puts a front of stock layers before that
    conv (core/edit/input_patches.py) so the model takes only the kept patches."""

    def __init__(self, model: nn.Module, example_inputs: ExampleInputs, patch: int) -> None:
        readers = first_readers(model, example_inputs)
        self.path = readers[0]
        module = model.get_submodule(self.path)
        if len(readers) != 1 or not isinstance(module, nn.Conv2d):
            kinds = [type(model.get_submodule(p)).__name__ for p in readers]
            raise ConfigError(
                f"FeatureConfig(patch={patch}) needs exactly one nn.Conv2d reading the input; "
                f"it is read by {list(zip(readers, kinds, strict=True))}: use patch=None to "
                "select columns or input channels instead"
            )
        self.patch = patch
        self.shape = tuple(tensors_of(example_inputs)[0].shape[1:])
        try:
            self.gate = PatchGate(self.shape, patch).to(module.weight.device)
        except ConfigError as error:
            raise ConfigError(f"FeatureConfig.patch: {error}") from None
        self.size = self.gate.gate.numel()
        self.handle = self.gate.attach(module)

    def parameters(self) -> list[nn.Parameter]:
        return [self.gate.gate]

    def state(self) -> dict[str, torch.Tensor]:
        """The gate (not a parameter of the model) and the pixel statistics."""
        return {"gate": self.gate.gate.detach(), **self.gate.statistics()}

    @torch.no_grad()
    def load_state(self, saved: dict[str, torch.Tensor]) -> None:
        self.gate.gate.copy_(saved["gate"])
        self.gate.load_statistics(saved)

    def scores(self, criterion: str) -> torch.Tensor:
        """Taylor: |g * dL/dg| of the current batch; magnitude: |g| times the standard deviation
        of the patch's pixels over the training samples (the gate on standardised inputs)."""
        g = self.gate.gate
        if criterion == "taylor":
            grad = g.grad if g.grad is not None else torch.zeros_like(g)
            return (g * grad).detach().abs().reshape(-1)
        spread = self.gate.input_spread().to(g.device)
        return g.detach().abs().reshape(-1) * spread

    @torch.no_grad()
    def zero(self, masked: torch.Tensor) -> None:
        self.gate.gate.view(-1)[masked] = 0

    def selector(self, shape: tuple[int, ...], kept: list[int], names: Any) -> FeatureSelector:
        return FeatureSelector(shape, "patch", tuple(kept), names, self.patch)

    def edits_before(self, model: nn.Module, kept: list[int]) -> list[ChannelEdit]:
        return []

    @torch.no_grad()
    def finish(self, model: nn.Module, kept: list[int]) -> list[ReplaceEdit]:
        """Remove the gate and place the front (scaled by the kept gate values) before the conv;
        called after the channel edits, so the conv is recorded in its pruned shape."""
        self.handle.remove()
        conv = model.get_submodule(self.path)
        front = patch_front(self.shape, self.patch, kept, self.gate.gate.detach())
        layers = [*(m.to(conv.weight.device) for m in front), conv]
        set_module(model, self.path, nn.Sequential(*layers))
        return [ReplaceEdit.of(self.path, layers)]

    def close(self) -> None:
        self.handle.remove()
