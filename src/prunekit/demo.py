"""``prunekit demo``: the README's main job, offline: transfer the ImageNet-pretrained
EfficientNet-Lite0 to ``digits``, channel-prune it to a latency target, fine-tune it, write the
report, and print the headline numbers (the packaged recipe ``demo``)."""

from __future__ import annotations

from pathlib import Path

from prunekit.report import write_report
from prunekit.report.write import headline
from prunekit.run import run_recipe
from prunekit.run.recipe import packaged_recipe


def run_demo(out: str = "prunekit-demo", force: bool = False, quick: bool = False) -> int:
    recipe = packaged_recipe("demo-quick" if quick else "demo")
    print(f"prunekit demo: {recipe.model.name} -> {recipe.data.name}, {recipe.method.name} pruning")
    summary = run_recipe(recipe, out, force=force)
    markdown, page = write_report(out)
    print("\nprunekit demo: done")
    for what, before, after, change in headline(summary):
        print(f"  {what}: {before} -> {after} ({change})")
    print(f"  report: {Path(page).resolve()}\n  markdown: {Path(markdown).resolve()}")
    return 0
