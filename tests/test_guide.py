"""Every Python block of docs/guide.md and of each method page (docs/methods/*.md) runs, in
order, in one namespace per page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
METHODS = ("adaptive", "basis", "features", "sfp", "sglp")
SLOW = {"adaptive", "features"}  # adaptive trains three times (about 90 s); features 15 s


def _run_blocks(page: Path, at_least: int) -> None:
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert len(blocks) >= at_least
    namespace: dict[str, object] = {}
    for number, block in enumerate(blocks):
        exec(compile(block, f"{page.name} block {number}", "exec"), namespace)


def test_every_python_block_of_the_guide_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _run_blocks(DOCS / "guide.md", 3)


def test_there_is_a_page_per_method() -> None:
    assert sorted(p.stem for p in (DOCS / "methods").glob("*.md")) == sorted(METHODS)


@pytest.mark.parametrize(
    "method", [pytest.param(m, marks=[pytest.mark.slow] if m in SLOW else []) for m in METHODS]
)
def test_every_python_block_of_a_method_page_runs(
    method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _run_blocks(DOCS / "methods" / f"{method}.md", 1)


def test_every_test_the_reliability_table_names_exists() -> None:
    text = (DOCS / "reliability.md").read_text()
    named = re.findall(r"`(?:tests/)?(test_\w+\.py|zoo_check\.py)::(\w+)(?:\[[^\]]*\])?`", text)
    assert len(named) > 40
    tests = DOCS.parent / "tests"
    missing = [
        (f, name)
        for f, name in named
        if not (tests / f).is_file() or f"def {name}(" not in (tests / f).read_text()
    ]
    assert missing == []
