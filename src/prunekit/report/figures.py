"""Figures of a run, as PNG bytes (matplotlib, Agg): what each method decided."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    _plt().close(fig)
    return buffer.getvalue()


def cka_heatmap(details: dict[str, Any], title: str = "CKA between layer units") -> bytes:
    """Linear CKA between units, with white lines at SGLP's segment borders."""
    import torch

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.2))
    image = ax.imshow(torch.tensor(details["cka"]), vmin=0, vmax=1, cmap="viridis")
    edge = 0
    for segment in details["segments"][:-1]:
        edge += len(segment)
        ax.axhline(edge - 0.5, color="white", lw=1.5)
        ax.axvline(edge - 0.5, color="white", lw=1.5)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("unit")
    ax.set_ylabel("unit")
    fig.colorbar(image, ax=ax, label="linear CKA")
    return _png(fig)


def kept_ranks(details: dict[str, Any]) -> bytes:
    """Basis pruning: full and kept rank per decomposed layer (merged-back layers hatched)."""
    plt = _plt()
    ranks = details["ranks"]
    names = list(ranks)
    fig, ax = plt.subplots(figsize=(max(5, 0.18 * len(names)), 3.4))
    ax.bar(range(len(names)), [ranks[n]["full"] for n in names], color="#ccc", label="full")
    kept = ax.bar(range(len(names)), [ranks[n]["kept"] for n in names], label="kept")
    for bar, name in zip(kept, names, strict=True):
        if ranks[name]["merged"]:
            bar.set_hatch("//")
    ax.set_xlabel("decomposed layer (hatched: merged back into one conv)")
    ax.set_ylabel("rank")
    ax.set_title("Basis pruning: kept rank per layer", fontsize=9)
    ax.legend(fontsize=8)
    return _png(fig)


def basis_spectrum(details: dict[str, Any]) -> bytes:
    """Taylor importance of the bases of each layer, sorted (one line per layer)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for scores in details["importance"]:
        values = sorted((max(s, 1e-20) for s in scores), reverse=True)
        ax.plot(range(1, len(values) + 1), values, lw=0.8, alpha=0.7)
    ax.set_yscale("log")
    ax.set_xlabel("basis (sorted)")
    ax.set_ylabel("Taylor importance")
    ax.set_title("Basis importance spectrum per layer", fontsize=9)
    return _png(fig)


def feature_mask(details: dict[str, Any]) -> bytes:
    """Feature selection: which input features (pixels) are kept."""
    import torch

    plt = _plt()
    mask = torch.tensor(details["feature_mask"]).float()
    while mask.dim() > 2:
        mask = mask.amax(0)
    if mask.dim() == 1:
        mask = mask[None]
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    ax.imshow(mask, cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"kept input features: {int(mask.sum())} of {mask.numel()}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return _png(fig)


def sfp_gap(details: dict[str, Any]) -> bytes:
    """SFP / CR-SFP: accuracy of the unpruned (R) and pruned (P) network per epoch."""
    plt = _plt()
    history = details["history"]
    epochs = [h["epoch"] + 1 for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(epochs, [100 * h["r_accuracy"] for h in history], label="R-NN (unpruned)")
    ax.plot(epochs, [100 * h["p_accuracy"] for h in history], label="P-NN (pruned)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Soft filter pruning: the R/P gap per epoch", fontsize=9)
    ax.legend(fontsize=8)
    return _png(fig)


def adaptive_split(details: dict[str, Any]) -> bytes:
    """Adaptive pruning: the learned layer gates and how the removed params split."""
    plt = _plt()
    gates = details["layer_gates"]
    removed = set(details["layers_removed"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2), width_ratios=[3, 1])
    colors = ["#d62728" if u in removed else "#1f77b4" for u in gates]
    left.bar(range(len(gates)), list(gates.values()), color=colors)
    left.set_xlabel("residual block (red: removed)")
    left.set_ylabel("|gate|")
    left.set_title("Learned layer gates", fontsize=9)
    parts = [details["params_removed_by_layers"], details["params_removed_by_channels"]]
    right.bar(["layers", "channels"], [100 * p for p in parts], color=["#d62728", "#ff7f0e"])
    right.set_ylabel("% of params removed")
    right.set_title("Learned split", fontsize=9)
    return _png(fig)


def widths(layers: list[dict[str, Any]]) -> bytes:
    """Output width (first weight dimension) of every layer before and after pruning."""
    plt = _plt()
    rows = [r for r in layers if r["before"]]
    fig, ax = plt.subplots(figsize=(max(5, 0.12 * len(rows)), 3.2))
    ax.bar(range(len(rows)), [r["before"][0] for r in rows], color="#ccc", label="before")
    ax.bar(
        range(len(rows)),
        [r["after"][0] if r["after"] else 0 for r in rows],
        label="after (0: removed)",
    )
    ax.set_xlabel("layer (in model order)")
    ax.set_ylabel("output width")
    ax.set_title("Width per layer", fontsize=9)
    ax.legend(fontsize=8)
    return _png(fig)


# detail key that must be present -> (title, figure)
METHOD_FIGURES: list[tuple[str, str, Callable[[dict[str, Any]], bytes]]] = [
    ("cka", "CKA heatmap with SGLP segments", cka_heatmap),
    ("ranks", "Kept rank per layer", kept_ranks),
    ("importance", "Basis importance spectrum", basis_spectrum),
    ("feature_mask", "Kept input features", feature_mask),
    ("layer_gates", "Learned layer/channel split", adaptive_split),
]


def method_figures(details: dict[str, Any]) -> list[tuple[str, bytes]]:
    out = [(title, draw(details)) for key, title, draw in METHOD_FIGURES if details.get(key)]
    history = details.get("history")
    if history and isinstance(history, list) and "gap" in history[0]:
        out.append(("SFP gap curve", sfp_gap(details)))
    return out
