"""The ``prunekit`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from prunekit._version import __version__
from prunekit.errors import PrunekitError


def _measure(args: argparse.Namespace) -> int:
    from prunekit.core.budget.metrics import measure
    from prunekit.zoo.models import default_example_inputs, model

    net = model(args.name)
    inputs = default_example_inputs(net, batch_size=args.batch_size)
    if args.input_size is not None and isinstance(inputs, dict):
        raise PrunekitError(
            f"--input-size sets an image side; {args.name} takes tokens (16 of them), not images"
        )
    if args.input_size is not None and not isinstance(inputs, dict):
        inputs = inputs.new_zeros(
            args.batch_size, *inputs.shape[1:-2], args.input_size, args.input_size
        ).normal_()
    metrics = measure(net, inputs, latency=not args.no_latency, threads=args.threads)
    print(f"model    {args.name}")
    print(f"params   {metrics.params:,} (buffers {metrics.buffers:,})")
    print(f"MACs     {metrics.macs:,} ({metrics.macs / 1e9:.3f} GMACs, {metrics.mac_counter})")
    if metrics.latency is not None:
        print(f"latency  {metrics.latency}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from prunekit.demo import run_demo

    return run_demo(out=args.out, force=args.force, quick=args.quick)


def _run(args: argparse.Namespace) -> int:
    from prunekit.report import write_report
    from prunekit.run import load_recipe, run_recipe

    recipe = load_recipe(args.recipe)
    out = args.out or recipe.output
    if out is None:
        raise PrunekitError(f"{args.recipe} names no output directory; pass --out DIR")
    if Path(out).exists() and not Path(out).is_dir():
        raise PrunekitError(f"--out {out} is a file; fix: name a directory (new or a run's)")
    run_recipe(recipe, out, force=args.force, progress=not args.quiet)
    markdown, page = write_report(out)
    print(f"prunekit run: done; report: {page} (markdown: {markdown})")
    return 0


def _report(args: argparse.Namespace) -> int:
    from prunekit.report import write_report

    markdown, page = write_report(args.run)
    print(f"{page}\n{markdown}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from prunekit.report import compare_runs

    print(compare_runs(args.runs))
    return 0


def _positive(text: str) -> int:
    """An argparse type: an integer >= 1, else a usage error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed: it must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prunekit",
        description="Make trained PyTorch networks physically smaller and faster.",
    )
    parser.add_argument("--version", action="version", version=f"prunekit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    measure = commands.add_parser(
        "measure", help="params, MACs and latency of a zoo, torchvision or timm model"
    )
    measure.add_argument(
        "name", help="e.g. efficientnet_lite0, resnet18, timm:vit_tiny_patch16_224"
    )
    measure.add_argument("--batch-size", type=_positive, default=1)
    measure.add_argument(
        "--input-size",
        type=_positive,
        default=None,
        help="image side in pixels (default: the model's own)",
    )
    measure.add_argument(
        "--threads",
        type=_positive,
        default=None,
        help="intra-op threads for latency (default: torch's)",
    )
    measure.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    measure.set_defaults(func=_measure)

    run = commands.add_parser(
        "run", help="run a recipe: train, prune, fine-tune, measure, save, report (resumable)"
    )
    run.add_argument("recipe", help="a YAML recipe (see recipes/)")
    run.add_argument("--out", default=None, help="output directory (default: the recipe's)")
    run.add_argument("--force", action="store_true", help="replace another run in --out")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.set_defaults(func=_run)

    report = commands.add_parser("report", help="write report.md and report.html of a run")
    report.add_argument("run", help="a run directory written by prunekit run")
    report.set_defaults(func=_report)

    compare = commands.add_parser("compare", help="a side-by-side table of runs")
    compare.add_argument("runs", nargs="+", help="run directories")
    compare.set_defaults(func=_compare)

    demo = commands.add_parser(
        "demo", help="offline: EfficientNet-Lite0 -> digits, pruned to a latency target, report"
    )
    demo.add_argument("--out", default="prunekit-demo", help="output directory")
    demo.add_argument("--force", action="store_true", help="replace another run in --out")
    demo.add_argument("--quick", action="store_true", help="a one-minute smoke version")
    demo.set_defaults(func=_demo)

    from prunekit.llm.cli import add_llm_parser

    add_llm_parser(commands, _positive)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except PrunekitError as exc:
        print(f"prunekit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prunekit: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
