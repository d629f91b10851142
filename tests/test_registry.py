"""The method registry is the one list of methods: every registered method is exported, has a
docs page naming its config, a packaged recipe (test_run.py) and determinism coverage
(test_determinism.py); recipes decode any registered config generically."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import prunekit as pk
from prunekit.methods.registry import MethodEntry, entries, entry_for, entry_named, register
from prunekit.run.recipe import build_config

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e.name)
def test_every_registered_method_is_exported_documented_and_consistent(entry: MethodEntry) -> None:
    assert getattr(pk, entry.config.__name__) is entry.config
    assert f"{entry.config.__name__}" in (DOCS / entry.page).read_text()
    fields = {f.name for f in dataclasses.fields(entry.config)}
    assert entry.resumable == ("checkpoint_dir" in fields)
    assert entry_for(entry.config.__new__(entry.config)) is entry
    assert entry_named(entry.name) is entry


def test_unknown_names_and_configs_list_the_registered_ones() -> None:
    with pytest.raises(pk.UnknownNameError, match="sglp"):
        entry_named("sglpp")
    with pytest.raises(pk.ConfigError, match=r"expected one of .*pk\.SFPConfig"):
        entry_for(object())


def test_a_config_type_registered_under_two_names_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(MethodEntry("sfp2", pk.SFPConfig, lambda *a: None, resumable=True, page=""))


def test_nested_configs_and_targets_decode_generically() -> None:
    config = build_config(
        "double",
        {"channel": {"target": {"params": 0.8}}, "basis": {"target": {"params": 0.5}}},
        "method.config",
    )
    assert config == pk.DoubleConfig(
        channel=pk.ChannelConfig(target=pk.Target(params=0.8)),
        basis=pk.BasisConfig(target=pk.Target(params=0.5)),
    )
    with pytest.raises(pk.ConfigError, match=r"method\.config\.basis\.target\.parms .*Target"):
        build_config("double", {"basis": {"target": {"parms": 0.5}}}, "method.config")


def test_sfp_takes_a_target_from_a_recipe() -> None:
    config = build_config("crsfp", {"target": {"macs": 0.5}, "epochs": 2}, "method.config")
    assert config == pk.CRSFPConfig(target=pk.Target(macs=0.5), epochs=2)
    assert config.rate is None  # chosen by pk.prune from the target
