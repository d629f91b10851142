"""Edits of whole blocks: keep some entries of a layer list (transformer layer removal), and
replace a module by a sequence of stock layers (basis decomposition, input-patch fronts)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from prunekit.core.edit.edits import Keep, PlanError, check_fields, path_of
from prunekit.core.edit.surgery import get_module, set_module

# Stock layers a replacement may be built from, with the constructor arguments recorded.
_CONV_ARGS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "padding_mode",
)
STOCK_LAYERS: dict[str, tuple[type[nn.Module], tuple[str, ...]]] = {
    "Conv1d": (nn.Conv1d, _CONV_ARGS),
    "Conv2d": (nn.Conv2d, _CONV_ARGS),
    "Conv3d": (nn.Conv3d, _CONV_ARGS),
    "Linear": (nn.Linear, ("in_features", "out_features")),
    "BatchNorm2d": (
        nn.BatchNorm2d,
        ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    ),
    "Identity": (nn.Identity, ()),
    "Flatten": (nn.Flatten, ("start_dim", "end_dim")),
    "Fold": (nn.Fold, ("output_size", "kernel_size", "dilation", "padding", "stride")),
}
_BIASED = {"Conv1d", "Conv2d", "Conv3d", "Linear"}  # layers whose constructor takes bias=


@dataclass(frozen=True)
class LayersEdit:
    """Keep some entries of the layer list at ``path`` (an ``nn.ModuleList``/``Sequential``).

    Kept layers that know their position (``layer_idx``, used by Hugging Face KV caches) are
    renumbered, and a model config's ``num_hidden_layers`` and ``layer_types`` follow."""

    op: ClassVar[str] = "layers"
    path: str
    keep: Keep

    def apply(self, model: nn.Module, where: str) -> None:
        layers = get_module(model, self.path)
        if not isinstance(layers, nn.ModuleList | nn.Sequential):
            raise PlanError(
                f"{where}: {self.path!r} is a {type(layers).__name__}, not a ModuleList or "
                "Sequential of layers"
            )
        self.keep.check(f"{where} ({self.path})")
        if len(layers) != self.keep.size:
            raise PlanError(
                f"{where}: {self.path} has {len(layers)} layers, the plan expects "
                f"{self.keep.size}; it was made for another model"
            )
        children = list(layers.named_children())
        kept = [children[i] for i in self.keep.indices]
        for new, (old, (_, layer)) in enumerate(zip(self.keep.indices, kept, strict=True)):
            for module in layer.modules():
                if getattr(module, "layer_idx", None) == old:
                    module.layer_idx = new
        if isinstance(layers, nn.Sequential):  # keeps its children's names
            set_module(model, self.path, nn.Sequential(OrderedDict(kept)))
        else:
            set_module(model, self.path, nn.ModuleList(m for _, m in kept))
        _update_config(model, self.path, self.keep)

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "path": self.path, **self.keep.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> LayersEdit:
        check_fields(data, {"op", "path", "size", "keep"}, where)
        keep = Keep.from_json({"size": data.get("size"), "keep": data.get("keep")}, where)
        return cls(path_of(data, where), keep)


def _update_config(model: nn.Module, path: str, keep: Keep) -> None:
    """The config field counting this list's layers follows: a decoder's or an encoder's own
    count in encoder-decoder families (Whisper's num_hidden_layers is its encoder_layers),
    num_hidden_layers otherwise; layer_types per layer follow too."""
    config = getattr(model, "config", None)
    if config is None or isinstance(config, nn.Module):
        return
    parts = path.split(".")
    fields = ["num_hidden_layers"]
    if "decoder" in parts:
        fields = ["decoder_layers", "num_decoder_layers"]
    elif "encoder" in parts and hasattr(config, "encoder_layers"):
        fields = ["encoder_layers"]
    for name in fields:
        if getattr(config, name, None) == keep.size:
            setattr(config, name, len(keep.indices))
            break
    types = getattr(config, "layer_types", None)
    if isinstance(types, list) and len(types) == keep.size:
        config.layer_types = [types[i] for i in keep.indices]


@dataclass(frozen=True)
class ReplaceEdit:
    """Replace the module at ``path`` by an ``nn.Sequential`` of stock layers, each given as
    ``{"type": "Conv2d", "args": {...constructor arguments...}}``. Weights come from the
    state dict (pruning sets them; pk.load loads them)."""

    op: ClassVar[str] = "replace"
    path: str
    layers: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]

    @classmethod
    def of(cls, path: str, modules: list[nn.Module]) -> ReplaceEdit:
        """The edit that rebuilds ``modules`` (stock layers) at ``path``."""
        return cls(path, tuple(layer_spec(m, f"{path}.{i}") for i, m in enumerate(modules)))

    def build(self, like: nn.Module | None = None) -> nn.Sequential:
        parameter = next(like.parameters(), None) if like is not None else None
        modules = []
        for kind, args in self.layers:
            cls, _ = STOCK_LAYERS[kind]
            kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in args}
            bias = kwargs.pop("bias", True)
            if kind in _BIASED:
                kwargs["bias"] = bias
            modules.append(cls(**kwargs))
        sequence = nn.Sequential(*modules)
        if parameter is not None:
            sequence.to(device=parameter.device, dtype=parameter.dtype)
        return sequence

    def apply(self, model: nn.Module, where: str) -> None:
        if not self.path:
            raise PlanError(f"{where}: the whole model cannot be replaced")
        old = get_module(model, self.path)
        try:
            new = self.build(old)
        except (TypeError, ValueError) as exc:
            raise PlanError(f"{where}: cannot build the replacement of {self.path}: {exc}") from exc
        set_module(model, self.path, new)

    def to_json(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "path": self.path,
            "layers": [{"type": kind, "args": dict(args)} for kind, args in self.layers],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> ReplaceEdit:
        check_fields(data, {"op", "path", "layers"}, where)
        items = data.get("layers")
        if not isinstance(items, list) or not items:
            raise PlanError(f"{where}: 'layers' must be a non-empty list")
        layers = []
        for number, item in enumerate(items):
            here = f"{where} layer {number}"
            check_fields(item, {"type", "args"}, here)
            kind, args = item.get("type"), item.get("args")
            if kind not in STOCK_LAYERS or not isinstance(args, dict):
                raise PlanError(
                    f"{here}: 'type' must be one of {sorted(STOCK_LAYERS)} and 'args' an object"
                )
            allowed = {*STOCK_LAYERS[kind][1], "bias"}
            unknown = set(args) - allowed
            if unknown:
                raise PlanError(f"{here}: unknown {kind} arguments {sorted(unknown)}")
            layers.append((kind, tuple(sorted(args.items()))))
        return cls(path_of(data, where), tuple(layers))


def layer_spec(module: nn.Module, where: str) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """(type name, constructor arguments) of a stock layer; other modules are refused."""
    kind = type(module).__name__
    if kind not in STOCK_LAYERS or type(module) is not STOCK_LAYERS[kind][0]:
        raise PlanError(
            f"{where}: a replacement must be made of stock layers "
            f"({', '.join(sorted(STOCK_LAYERS))}), got {kind}"
        )
    args: dict[str, Any] = {}
    for name in STOCK_LAYERS[kind][1]:
        value = getattr(module, name)
        args[name] = list(value) if isinstance(value, tuple) else value
    if kind in _BIASED:
        args["bias"] = isinstance(getattr(module, "bias", None), torch.Tensor)
    return kind, tuple(sorted(args.items()))
