"""A local Hugging Face causal-LM checkpoint (config.json + safetensors shards), read lazily: a
skeleton on the meta device, and one module's weights at a time from the shards."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import nn

from prunekit.errors import InputError
from prunekit.llm.families import check_family

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"


class Checkpoint:
    """``config.json`` and the tensor names of a checkpoint directory; tensors are read on demand
    (safetensors maps the file, so reading one tensor reads only its bytes)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.config_dict = _read_config(self.directory)
        self.family = check_family(self.config_dict, self.directory)
        self.files = _tensor_files(self.directory)
        self._headers: dict[str, tuple[tuple[int, ...], str]] = {}

    @property
    def names(self) -> list[str]:
        return list(self.files)

    @property
    def layers(self) -> int:
        return int(self.config_dict["num_hidden_layers"])

    def tensor(self, name: str) -> torch.Tensor:
        """One tensor, in its stored dtype, copied out of the file's map; the map is closed at
        once, so the pages read do not stay in the process's resident memory."""
        file = self.files.get(name)
        if file is None:
            raise InputError(f"{self.directory}: no tensor {name!r} in the checkpoint's shards")
        with safe_open(str(self.directory / file), framework="pt") as handle:
            return handle.get_tensor(name).clone()

    def shape(self, name: str) -> tuple[int, ...]:
        """A tensor's shape from its shard's header (no data read)."""
        return self._header(name)[0]

    def dtype_code(self, name: str) -> str:
        """A tensor's safetensors dtype code ("BF16", "F32"...) from its shard's header."""
        return self._header(name)[1]

    def _header(self, name: str) -> tuple[tuple[int, ...], str]:
        if not self._headers:
            for file in sorted(set(self.files.values())):
                with safe_open(str(self.directory / file), framework="pt") as handle:
                    for key in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                        piece = handle.get_slice(key)
                        self._headers[key] = (tuple(piece.get_shape()), piece.get_dtype())
        return self._headers[name]

    def close(self) -> None:
        """Nothing stays open between reads; kept so a Checkpoint is a context manager."""

    def config(self) -> Any:
        """The transformers config object."""
        from transformers import AutoConfig

        return AutoConfig.for_model(**self.config_dict)

    def skeleton(self, dtype: torch.dtype) -> nn.Module:
        """The model on the meta device (no memory): modules and shapes, no weights."""
        from transformers import AutoModelForCausalLM

        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(self.config(), dtype=dtype)

    def load(
        self, module: nn.Module, prefix: str, device: torch.device, dtype: torch.dtype
    ) -> None:
        """Give ``module`` (on meta) its weights: the tensors named ``prefix`` + its state-dict
        keys, cast to ``dtype`` on ``device``."""
        module.to_empty(device=device)
        with torch.no_grad():
            for key, target in module.state_dict(keep_vars=True).items():
                name = prefix + key
                tied = self.config_dict.get("tie_word_embeddings", True)
                if name not in self.files and prefix == "lm_head." and tied:
                    name = self.family.embedding  # tied: the head is the embedding
                target.data = self.tensor(name).to(device=device, dtype=dtype)

    def layer_names(self, index: int) -> list[str]:
        head = f"{self.family.layers}.{index}."
        return [n for n in self.files if n.startswith(head)]

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_config(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise InputError(
            f"{directory} is not a directory; fix: pass a Hugging Face checkpoint directory "
            "(config.json and *.safetensors, as save_pretrained writes)"
        )
    path = directory / "config.json"
    if not path.is_file():
        raise InputError(
            f"{directory} has no config.json, so it is not a Hugging Face checkpoint; fix: pass "
            "the directory save_pretrained wrote (or a hub snapshot's folder)"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc}); fix: restore the file") from exc
    if not isinstance(config, dict) or "model_type" not in config:
        raise InputError(f"{path} has no model_type field; fix: restore the file")
    return config


def _tensor_files(directory: Path) -> dict[str, str]:
    """Tensor name -> shard file name, from the index or the single file."""
    index = directory / INDEX
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map") or {}
        missing = sorted({f for f in weight_map.values() if not (directory / f).is_file()})
        if missing:
            raise InputError(
                f"{index} names shards that are missing: {', '.join(missing[:3])}; fix: finish "
                "the download or copy"
            )
        return dict(weight_map)
    if (directory / SINGLE).is_file():
        with safe_open(str(directory / SINGLE), framework="pt") as handle:
            return dict.fromkeys(handle.keys(), SINGLE)
    found = sorted(p.name for p in directory.iterdir())[:8]
    raise InputError(
        f"{directory} has config.json but no {SINGLE} nor {INDEX} (found: {', '.join(found)}); "
        "prunekit reads safetensors only (no pickle); fix: re-save the model with "
        "save_pretrained(dir, safe_serialization=True)"
    )
