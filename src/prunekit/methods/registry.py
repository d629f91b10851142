"""Config type -> method: the one place that knows every method (PEFT-style registry)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prunekit.errors import ConfigError
from prunekit.methods.adaptive.config import AdaptiveConfig
from prunekit.methods.adaptive.method import prune_adaptive
from prunekit.methods.basis.config import BasisConfig, DoubleConfig
from prunekit.methods.basis.method import prune_basis, prune_double
from prunekit.methods.channel.config import ChannelConfig
from prunekit.methods.channel.method import prune_channels
from prunekit.methods.features.config import FeatureConfig
from prunekit.methods.features.method import prune_features
from prunekit.methods.layers.config import LayerConfig
from prunekit.methods.layers.method import prune_layers
from prunekit.methods.sfp.config import CRSFPConfig, SFPConfig
from prunekit.methods.sfp.method import prune_sfp
from prunekit.methods.sglp.config import SGLPConfig
from prunekit.methods.sglp.method import prune_sglp

Method = Callable[..., Any]

METHODS: dict[type, Method] = {
    ChannelConfig: prune_channels,
    BasisConfig: prune_basis,
    DoubleConfig: prune_double,
    LayerConfig: prune_layers,
    FeatureConfig: prune_features,
    SFPConfig: prune_sfp,
    CRSFPConfig: prune_sfp,
    SGLPConfig: prune_sglp,
    AdaptiveConfig: prune_adaptive,
}


def method_for(config: object) -> Method:
    for config_type, method in METHODS.items():
        if type(config) is config_type:
            return method
    known = ", ".join(f"pk.{t.__name__}" for t in METHODS)
    raise ConfigError(f"config is a {type(config).__name__}; expected one of {known}")
