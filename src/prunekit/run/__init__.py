"""``prunekit run``: recipes (YAML) and the resumable pipeline they describe."""

from prunekit.run.pipeline import run_recipe
from prunekit.run.recipe import Recipe, load_recipe

__all__ = ["Recipe", "load_recipe", "run_recipe"]
