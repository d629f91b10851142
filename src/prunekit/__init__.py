"""prunekit: make trained PyTorch networks physically smaller and faster."""

from prunekit import zoo
from prunekit._version import __version__
from prunekit.api import PruneResult, prune
from prunekit.core.budget.metrics import Latency, Metrics, Ratios, measure
from prunekit.core.budget.target import Target
from prunekit.core.edit.inputs_edit import FeatureSelector, feature_selector
from prunekit.core.edit.plan import Plan, PlanError
from prunekit.errors import (
    ConfigError,
    InputError,
    MissingDependencyError,
    OfflineError,
    PrunekitError,
    UnknownNameError,
)
from prunekit.io.onnx import export_onnx
from prunekit.io.save import load, save
from prunekit.methods.adaptive import AdaptiveConfig as AdaptiveConfig
from prunekit.methods.adaptive import AdaptiveGates
from prunekit.methods.basis import BasisConfig as BasisConfig
from prunekit.methods.basis import DoubleConfig as DoubleConfig
from prunekit.methods.channel import ChannelConfig as ChannelConfig
from prunekit.methods.features import FeatureConfig as FeatureConfig
from prunekit.methods.layers import LayerConfig as LayerConfig
from prunekit.methods.registry import entries as _entries
from prunekit.methods.sfp import CRSFPConfig as CRSFPConfig
from prunekit.methods.sfp import SFPConfig as SFPConfig
from prunekit.methods.sglp import SGLPConfig as SGLPConfig
from prunekit.models import rules as _rules
from prunekit.models.hf_save import save_pretrained

_rules.register()

# Each method's config is imported above in the re-export form (``X as X``), one line per
# method: importing it registers the method, and ``__all__`` lists every registered config.
__all__ = [
    "AdaptiveGates",
    "ConfigError",
    "FeatureSelector",
    "InputError",
    "Latency",
    "Metrics",
    "MissingDependencyError",
    "OfflineError",
    "Plan",
    "PlanError",
    "PruneResult",
    "PrunekitError",
    "Ratios",
    "Target",
    "UnknownNameError",
    "__version__",
    "export_onnx",
    "feature_selector",
    "load",
    "measure",
    "prune",
    "save",
    "save_pretrained",
    "zoo",
]
__all__ += sorted(entry.config.__name__ for entry in _entries())
