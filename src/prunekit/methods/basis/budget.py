"""Which bases to keep: global removal in importance order, cost counted against the original
undecomposed model (a layer whose kept rank does not pay is counted as merged back)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prunekit.errors import ConfigError


@dataclass
class LayerCost:
    path: str
    n: int  # inputs per output: C_in * k * k
    out: int
    rank: int
    positions: int  # output positions per sample summed over calls (for MACs)
    merged: bool = False  # exported as one layer whatever its rank (it runs faster so)

    def params(self, rank: int) -> int:
        if self.merged:
            return self.out * self.n
        return min(rank * (self.n + self.out), self.out * self.n)

    def pays(self, rank: int) -> bool:
        """The split layers (rank x (n + out) weights) hold fewer weights than one layer."""
        return rank * (self.n + self.out) < self.out * self.n

    def macs(self, rank: int) -> int:
        return self.params(rank) * self.positions


def _totals(costs: list[LayerCost], ranks: list[int], current: dict[str, int]) -> dict[str, int]:
    """Model totals with each decomposed layer at ``ranks`` (merged back where that pays)."""
    return {
        "params": current["params"]
        - sum(c.out * c.n - c.params(r) for c, r in zip(costs, ranks, strict=True)),
        "macs": current.get("macs", 0)
        - sum((c.out * c.n - c.params(r)) * c.positions for c, r in zip(costs, ranks, strict=True)),
    }


def check_reachable(
    costs: list[LayerCost], base: dict[str, int], targets: dict[str, float], current: dict[str, int]
) -> None:
    """Raise before any training when one basis per layer still misses a target."""
    floor = _totals(costs, [1] * len(costs), current)
    if any(floor[k] / base[k] > v + 1e-12 for k, v in targets.items()):
        best = {k: round(floor[k] / base[k], 4) for k in targets}
        raise ConfigError(
            f"the basis target {targets} cannot be reached by the decomposed layers: keeping one "
            f"basis in each gives {best}; fix: relax the target, decompose more layers, or use "
            "DoubleConfig"
        )


def select(
    costs: list[LayerCost],
    scores: list[torch.Tensor],
    base: dict[str, int],
    targets: dict[str, float],
    normalize: bool,
    current: dict[str, int] | None = None,
) -> list[list[int]]:
    """Kept basis indices per layer: the fewest removals, lowest score first, meeting every
    target. ``base`` holds the original model's totals, ``current`` the undecomposed model's
    now (smaller than ``base`` after channel pruning); at least one basis stays per layer."""
    current = current or base
    order = []
    for layer, score in enumerate(scores):
        value = score / score.mean().clamp_min(1e-30) if normalize else score
        order.extend((float(v), layer, j) for j, v in enumerate(value))
    order.sort()
    check_reachable(costs, base, targets, current)
    ranks = [c.rank for c in costs]
    totals = _totals(costs, ranks, current)
    removed: list[set[int]] = [set() for _ in costs]

    def meets() -> bool:
        return all(totals[k] / base[k] <= v + 1e-12 for k, v in targets.items())

    for _, layer, j in order:
        if meets():
            break
        cost = costs[layer]
        if ranks[layer] <= 1 or cost.merged:  # a merged layer keeps its bases: no saving
            continue
        totals["params"] -= cost.params(ranks[layer]) - cost.params(ranks[layer] - 1)
        totals["macs"] -= cost.macs(ranks[layer]) - cost.macs(ranks[layer] - 1)
        ranks[layer] -= 1
        removed[layer].add(j)
    return [[j for j in range(c.rank) if j not in removed[i]] for i, c in enumerate(costs)]
