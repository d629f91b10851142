"""``save_pretrained`` for pruned Hugging Face models, checked by a round trip: what is written
must rebuild, through the config and ``from_pretrained``, the same model with the same outputs.
Otherwise nothing is written and the error names the difference."""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunekit.core.checks.verify import relative_error
from prunekit.core.model.inputs import ExampleInputs, call_model, model_dtype, primary_output
from prunekit.core.model.modes import eval_mode
from prunekit.core.model.structure import structure_difference
from prunekit.errors import PrunekitError
from prunekit.models.hf import is_hf_model

# Relative output difference allowed after the round trip (float32; low precision: bfloat16's).
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-9}
LOW_PRECISION_TOLERANCE = 2e-2
_FIX = "fix: use pk.save / pk.load, which save any pruned model"


def save_pretrained(
    model: nn.Module,
    directory: str | os.PathLike[str],
    example_inputs: ExampleInputs | None = None,
) -> Path:
    """``model.save_pretrained(directory)``, checked twice before anything is written: the config
    must build exactly the model's tensors (names and shapes), and ``from_pretrained`` of what
    was written must give the model's outputs on ``example_inputs`` (default: two sequences of
    16 random tokens, or images, or audio features, as the model takes). That catches every
    constant a family derives from its config (Gemma's embed_scale = sqrt(hidden_size), for
    example): a failing check raises, naming the difference, and leaves ``directory`` as it
    was. ``model`` may be a PruneResult."""
    model = getattr(model, "model", model) if not isinstance(model, nn.Module) else model
    name = type(model).__name__
    if not is_hf_model(model):
        raise PrunekitError(f"pk.save_pretrained needs a transformers model, got {name}; {_FIX}")
    try:
        with torch.device("meta"):
            rebuilt = type(model)(model.config)
    except Exception as exc:
        raise PrunekitError(
            f"the config of {name} cannot describe the pruned model ({exc}); {_FIX}"
        ) from exc
    difference = structure_difference(model, rebuilt)
    if difference is not None:
        raise PrunekitError(
            f"the config of {name} cannot express the pruned model: {difference} (layers pruned "
            "differently, a width its config has no field for, or a family whose config derives "
            "the head size from hidden_size / num_attention_heads); fix: use pk.save / pk.load, "
            "or prune with ChannelConfig(scope='local') so that every layer keeps the same shapes"
        )
    inputs = example_inputs if example_inputs is not None else default_inputs(model)
    out = Path(directory)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        try:
            model.save_pretrained(staging)
        except Exception as exc:  # the config validates itself as it is written (hub errors)
            raise PrunekitError(
                f"transformers refuses the config of this pruned {name}: {exc}; nothing was "
                f"written; fix: prune widths the family's config accepts, or {_FIX[5:]}"
            ) from exc
        _check_round_trip(model, staging, inputs)
        out.mkdir(exist_ok=True)
        for item in staging.iterdir():
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _check_round_trip(model: nn.Module, written: Path, inputs: ExampleInputs) -> None:
    name = type(model).__name__
    dtype = model_dtype(model)
    reloaded = type(model).from_pretrained(written, dtype=dtype).to(_device(model))
    with eval_mode(model), eval_mode(reloaded), torch.no_grad():
        expected = primary_output(call_model(model, inputs)).float()
        actual = primary_output(call_model(reloaded, inputs)).float()
    error = relative_error(expected, actual) if expected.shape == actual.shape else float("inf")
    if error <= TOLERANCE.get(dtype, LOW_PRECISION_TOLERANCE):
        return
    buffers = _differing_buffers(model, reloaded)
    raise PrunekitError(
        f"save_pretrained of this pruned {name} would not load back as the same model: "
        f"{type(model).__name__}.from_pretrained gives outputs that differ by {error:.2e} "
        f"(relative){buffers}. The config rebuilds a constant from a field the pruning changed; "
        f"nothing was written; {_FIX}"
    )


def _differing_buffers(model: nn.Module, reloaded: nn.Module) -> str:
    theirs = dict(reloaded.named_buffers())
    names = [
        n
        for n, b in model.named_buffers()
        if n in theirs and (b.shape != theirs[n].shape or not torch.equal(b, theirs[n]))
    ]
    if not names:
        return ""
    shown = ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")
    return f"; buffers that differ after the reload: {shown}"


def _device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def default_inputs(model: nn.Module, batch: int = 2) -> dict[str, Any]:
    """Inputs a transformers model takes, from its config: token ids, pixel values or audio
    features, plus decoder token ids where its forward asks for them."""
    config = model.config
    accepted = inspect.signature(model.forward).parameters
    g = torch.Generator().manual_seed(0)
    vocab = int(getattr(config, "vocab_size", 0) or 0)
    tokens = torch.randint(0, max(vocab, 2), (batch, 16), generator=g)
    inputs: dict[str, Any] = {}
    if "input_features" in accepted and getattr(config, "num_mel_bins", None):
        frames = 2 * int(config.max_source_positions)
        inputs["input_features"] = torch.randn(batch, config.num_mel_bins, frames, generator=g)
    elif "pixel_values" in accepted and getattr(config, "image_size", None):
        side = int(config.image_size)
        channels = int(getattr(config, "num_channels", 3))
        inputs["pixel_values"] = torch.randn(batch, channels, side, side, generator=g)
    elif "input_ids" in accepted and vocab:
        inputs["input_ids"] = tokens
    else:
        raise PrunekitError(
            f"prunekit cannot guess the inputs of {type(model).__name__}; fix: pass "
            "save_pretrained(model, directory, example_inputs=...)"
        )
    if "decoder_input_ids" in accepted and getattr(config, "is_encoder_decoder", False):
        inputs["decoder_input_ids"] = tokens[:, :8]
    return {k: v.to(_device(model)) for k, v in inputs.items()}
