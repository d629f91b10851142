"""prunekit: make trained PyTorch networks physically smaller and faster."""

from prunekit import zoo
from prunekit._version import __version__
from prunekit.core.metrics import Latency, Metrics, Ratios, measure
from prunekit.errors import (
    ConfigError,
    InputError,
    MissingDependencyError,
    OfflineError,
    PrunekitError,
    UnknownNameError,
)

__all__ = [
    "ConfigError",
    "InputError",
    "Latency",
    "Metrics",
    "MissingDependencyError",
    "OfflineError",
    "PrunekitError",
    "Ratios",
    "UnknownNameError",
    "__version__",
    "measure",
    "zoo",
]
