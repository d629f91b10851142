"""Linear CKA in float64: the biased HSIC (Kornblith et al. 2019) and the unbiased minibatch
estimator (Song et al. 2012; Nguyen, Raghu & Kornblith 2021), accumulated batch by batch.

Unbiased: zero the Gram diagonals, then
HSIC1(K, L) = [tr(KL) + (1'K1)(1'L1)/((n-1)(n-2)) - 2/(n-2) 1'KL1] / (n(n-3)), n >= 4.
Minibatch CKA = mean HSIC1(K_b, L_b) / sqrt(mean HSIC1(K_b, K_b) * mean HSIC1(L_b, L_b)).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from prunekit.errors import InputError

ESTIMATORS = ("unbiased", "biased")


def gram(features: torch.Tensor) -> torch.Tensor:
    """Linear Gram matrix of (n, ...) features, flattened per sample, in float64."""
    x = features.detach().reshape(features.shape[0], -1).to(torch.float64)
    return x @ x.T


def hsic(k: torch.Tensor, m: torch.Tensor, estimator: str = "unbiased") -> torch.Tensor:
    n = k.shape[0]
    if estimator == "biased":
        h = torch.eye(n, dtype=k.dtype, device=k.device) - 1.0 / n
        return torch.trace(k @ h @ m @ h) / (n - 1) ** 2
    if n < 4:
        raise InputError(f"the unbiased HSIC needs batches of at least 4 samples, got {n}")
    k = k.clone().fill_diagonal_(0)
    m = m.clone().fill_diagonal_(0)
    ones = torch.ones(n, 1, dtype=k.dtype, device=k.device)
    term = torch.sum(k * m)  # tr(K L) for symmetric matrices
    term = term + (ones.T @ k @ ones) * (ones.T @ m @ ones) / ((n - 1) * (n - 2))
    term = term - 2.0 / (n - 2) * (ones.T @ k @ m @ ones)
    return (term / (n * (n - 3))).squeeze()


def cka(x: torch.Tensor, y: torch.Tensor, estimator: str = "unbiased") -> float:
    """Linear CKA of two representations of the same n samples (one batch)."""
    accumulator = MinibatchCKA(2, estimator)
    accumulator.update([x, y])
    return float(accumulator.matrix()[0, 1])


class MinibatchCKA:
    """Accumulates HSIC between every pair of ``count`` representations over batches; memory
    is the count x count accumulator plus one batch of Gram matrices."""

    def __init__(self, count: int, estimator: str = "unbiased") -> None:
        if estimator not in ESTIMATORS:
            raise InputError(f"CKA estimator {estimator!r}; expected one of {ESTIMATORS}")
        self.estimator = estimator
        self.sums = torch.zeros(count, count, dtype=torch.float64)
        self.batches = 0

    def update(self, features: Sequence[torch.Tensor]) -> None:
        self.update_grams([gram(f) for f in features])

    def update_grams(self, grams: Sequence[torch.Tensor]) -> None:
        """One batch, given as the Gram matrices of its representations (``gram``)."""
        for i, k in enumerate(grams):
            for j in range(i, len(grams)):
                value = hsic(k, grams[j], self.estimator).cpu()
                self.sums[i, j] += value
                if i != j:
                    self.sums[j, i] += value
        self.batches += 1

    def matrix(self) -> torch.Tensor:
        if self.batches == 0:
            raise InputError("CKA saw no batch; pass validation data")
        diag = self.sums.diagonal().clamp_min(1e-300)
        result = self.sums / torch.sqrt(diag[:, None] * diag[None, :])
        result.fill_diagonal_(1.0)
        return result
