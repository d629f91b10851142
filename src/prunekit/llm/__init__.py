"""Large language models, streamed: prune a Hugging Face causal-LM checkpoint one decoder layer
at a time (``prunekit llm`` on the command line). See docs/guide.md, "Large language models,
streamed". Attributes load on first use, so building the command line imports no transformers."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Checkpoint": "prunekit.llm.checkpoint",
    "LLMPlan": "prunekit.llm.plan",
    "LLMOptions": "prunekit.llm.run",
    "prune_llm": "prunekit.llm.run",
    "HealOptions": "prunekit.llm.heal",
    "heal": "prunekit.llm.heal",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'prunekit.llm' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
