"""Accuracy-versus-size plots of the benchmark results, one per task, for render.py.

Each extractor turns a result JSON into points (method, params kept, accuracies over seeds);
``plot`` draws one line per method (mean, with the standard deviation as error bars).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

Points = dict[str, dict[float, list[float]]]  # method -> params kept -> accuracies (%)


def _add(points: Points, method: str, size: float, accuracy: float) -> None:
    points.setdefault(method, {}).setdefault(round(size, 4), []).append(100 * accuracy)


def basis(data: dict[str, Any]) -> Points:
    points: Points = {}
    for r in data["rows"]:
        if "accuracy" in r:
            _add(points, r["method"], r["params_kept"], r["accuracy"])
    return points


def sglp(data: dict[str, Any]) -> Points:
    points: Points = {}
    for r in data["rows"]:
        _add(points, r["method"], r["params_kept"], r["finetuned"])
        _add(points, "dense", 1.0, r["dense"])
    return points


def adaptive(data: dict[str, Any]) -> Points:
    points: Points = {}
    for r in data["rows"]:
        _add(points, r["method"], r["params_kept"], r["accuracy"])
        _add(points, "dense", 1.0, r["dense"])
    return points


def sfp(data: dict[str, Any]) -> Points:
    points: Points = {}
    for r in data["rows"]:
        _add(points, r["method"], r["params_kept"], r["accuracy"])
    return points


def features(data: dict[str, Any], task: str) -> Points:
    points: Points = {}
    dense = max(r["params"] for r in data["rows"] if r["task"] == task)
    for r in data["rows"]:
        if r["task"] == task:
            _add(points, r["method"], r["params"] / dense, r["accuracy"])
    return points


EXTRACT: dict[str, Callable[[dict[str, Any]], Points]] = {
    "basis": basis,
    "sglp": sglp,
    "adaptive": adaptive,
    "sfp": sfp,
    "features-digits": lambda d: features(d, "digits"),
    "features-breast_cancer": lambda d: features(d, "breast_cancer"),
}


def plot(points: Points, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for method, by_size in sorted(points.items()):
        sizes = sorted(by_size)
        means = [statistics.mean(by_size[s]) for s in sizes]
        stds = [statistics.stdev(by_size[s]) if len(by_size[s]) > 1 else 0.0 for s in sizes]
        style = "*" if method == "dense" else "o-"
        ax.errorbar(sizes, means, yerr=stds, fmt=style, capsize=3, label=method)
    ax.set_xscale("log")
    ax.set_xlabel("params kept (fraction of the dense model, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
