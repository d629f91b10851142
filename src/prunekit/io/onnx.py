"""ONNX export of a (pruned) model, checked with onnxruntime against PyTorch."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from prunekit.core.model.inputs import ExampleInputs, call_model, primary_output, split_inputs
from prunekit.core.model.modes import eval_mode
from prunekit.errors import PrunekitError, require
from prunekit.io.atomic import atomic_path


def export_onnx(
    model: nn.Module,
    example_inputs: ExampleInputs,
    path: str | os.PathLike[str],
    check: bool = True,
    rtol: float = 1e-3,
    opset: int | None = None,
) -> float:
    """Export ``model`` to ONNX at ``path`` (atomically). With ``check``, run the file with
    onnxruntime on the example inputs and compare with PyTorch; returns the largest relative
    difference and raises when it exceeds ``rtol``."""
    require("onnxscript", "onnxscript", "ONNX export (torch's default dynamo exporter)")
    args, kwargs = split_inputs(example_inputs)
    target = Path(path)
    with eval_mode(model), warnings.catch_warnings(), atomic_path(target) as tmp:
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                model, args, kwargs=kwargs or None, dynamo=True, opset_version=opset, verbose=False
            )
            program.save(str(tmp))
        except Exception as exc:
            raise PrunekitError(f"ONNX export of {type(model).__name__} failed: {exc}") from exc
    if not check:
        return 0.0
    return _check(model, example_inputs, target, rtol)


def _check(model: nn.Module, example_inputs: ExampleInputs, path: Path, rtol: float) -> float:
    ort = require("onnxruntime", "onnxruntime", "checking an ONNX export")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    args, kwargs = split_inputs(example_inputs)
    tensors = [a for a in args if isinstance(a, torch.Tensor)] + [
        v for v in kwargs.values() if isinstance(v, torch.Tensor)
    ]
    feed = {
        i.name: t.detach().cpu().numpy()
        for i, t in zip(session.get_inputs(), tensors, strict=False)
    }
    onnx_out = session.run(None, feed)[0]
    with eval_mode(model), torch.no_grad():
        torch_out = primary_output(call_model(model, example_inputs)).cpu().numpy()
    scale = max(float(np.abs(torch_out).max()), 1e-12)
    error = float(np.abs(onnx_out - torch_out).max()) / scale
    if error > rtol:
        raise PrunekitError(
            f"the ONNX model at {path} differs from PyTorch by {error:.2e} "
            f"(relative, more than {rtol})"
        )
    return error
