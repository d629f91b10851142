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
from prunekit.methods.adaptive import AdaptiveConfig, AdaptiveGates
from prunekit.methods.basis import BasisConfig, DoubleConfig
from prunekit.methods.channel import ChannelConfig
from prunekit.methods.features import FeatureConfig
from prunekit.methods.layers import LayerConfig
from prunekit.methods.sfp import CRSFPConfig, SFPConfig
from prunekit.methods.sglp import SGLPConfig
from prunekit.models import rules as _rules
from prunekit.models.hf_save import save_pretrained

_rules.register()

__all__ = [
    "AdaptiveConfig",
    "AdaptiveGates",
    "BasisConfig",
    "CRSFPConfig",
    "ChannelConfig",
    "ConfigError",
    "DoubleConfig",
    "FeatureConfig",
    "FeatureSelector",
    "InputError",
    "Latency",
    "LayerConfig",
    "Metrics",
    "MissingDependencyError",
    "OfflineError",
    "Plan",
    "PlanError",
    "PruneResult",
    "PrunekitError",
    "Ratios",
    "SFPConfig",
    "SGLPConfig",
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
