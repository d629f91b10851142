"""Accuracy-versus-size plots of the benchmark results, one per task, for render.py.

Each extractor turns a result JSON into, per method and operating point (target), the params
kept and the accuracy of each seed; ``plot`` draws one line per method through the mean size
and mean accuracy of each point (standard deviation over seeds as error bars).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

Points = dict[str, dict[Any, list[tuple[float, float]]]]
# method -> operating point -> (params kept, accuracy %) per seed


def _add(points: Points, method: str, point: Any, size: float, accuracy: float) -> None:
    points.setdefault(method, {}).setdefault(point, []).append((size, 100 * accuracy))


def _dense(points: Points, rows: list[dict[str, Any]]) -> None:
    """The dense model once per seed."""
    for accuracy in {r["seed"]: r["dense"] for r in rows}.values():
        _add(points, "dense", "dense", 1.0, accuracy)


def basis(data: dict[str, Any]) -> Points:
    points: Points = {}
    for r in data["rows"]:
        if "accuracy" in r:
            _add(points, r["method"], r.get("keep", 1.0), r["params_kept"], r["accuracy"])
    return points


def sglp(data: dict[str, Any]) -> Points:
    points: Points = {}
    for r in data["rows"]:
        _add(points, r["method"], r["keep"], r["params_kept"], r["finetuned"])
    _dense(points, data["rows"])
    return points


def adaptive(data: dict[str, Any]) -> Points:
    points: Points = {}
    for r in data["rows"]:
        _add(points, r["method"], "target", r["params_kept"], r["accuracy"])
    _dense(points, data["rows"])
    return points


def sfp(data: dict[str, Any]) -> Points:
    points: Points = {}
    for r in data["rows"]:
        _add(points, r["method"], r["rate"], r["params_kept"], r["accuracy"])
    return points


def features(data: dict[str, Any], task: str) -> Points:
    points: Points = {}
    dense = max(r["params"] for r in data["rows"] if r["task"] == task)
    for r in data["rows"]:
        if r["task"] == task:
            _add(points, r["method"], r["keep"], r["params"] / dense, r["accuracy"])
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
    for method, by_point in sorted(points.items()):
        seeds = sorted(by_point.values(), key=lambda runs: statistics.mean(s for s, _ in runs))
        sizes = [statistics.mean(s for s, _ in runs) for runs in seeds]
        accuracy = [[a for _, a in runs] for runs in seeds]
        means = [statistics.mean(a) for a in accuracy]
        stds = [statistics.stdev(a) if len(a) > 1 else 0.0 for a in accuracy]
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
