"""Large language models, streamed: prune a Hugging Face causal-LM checkpoint one decoder layer
at a time (``prunekit llm`` on the command line). See docs/guide.md, "Large models"."""

from prunekit.llm.checkpoint import Checkpoint
from prunekit.llm.plan import LLMPlan
from prunekit.llm.run import LLMOptions, prune_llm

__all__ = ["Checkpoint", "LLMOptions", "LLMPlan", "prune_llm"]
