"""Basis scaling and double pruning."""

from prunekit.methods.basis.config import BasisConfig, DoubleConfig
from prunekit.methods.basis.method import prune_basis, prune_double
from prunekit.methods.registry import MethodEntry, register

register(MethodEntry("basis", BasisConfig, prune_basis, resumable=True, page="methods/basis.md"))
register(MethodEntry("double", DoubleConfig, prune_double, resumable=True, page="methods/basis.md"))

__all__ = ["BasisConfig", "DoubleConfig"]
