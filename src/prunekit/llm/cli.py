"""``prunekit llm MODEL_DIR --out DIR ...``: the command-line face of prunekit.llm.run."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any, TypeVar

from prunekit.errors import ConfigError

T = TypeVar("T")


def _target(text: str) -> Any:
    from prunekit.core.budget.target import Target

    name, _, value = text.partition("=")
    if name not in ("layers", "params") or not value:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected layers=F or params=F, e.g. layers=0.75 (keep 75% of the layers)"
        )
    try:
        return Target(**{name: float(value)})
    except (ValueError, ConfigError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_llm_parser(commands: Any, positive: Any) -> None:
    from prunekit.llm.names import DTYPE_NAMES, METHODS

    llm = commands.add_parser(
        "llm",
        help="prune a Hugging Face causal LM checkpoint layer by layer (7B fits in 3 GB)",
        description="Score a local checkpoint one decoder layer at a time, prune it, and write "
        "a Hugging Face checkpoint plus a report (prunekit-llm.md). Ctrl-C, then the same "
        "command, resumes.",
    )
    llm.add_argument("model_dir", help="a checkpoint folder: config.json + *.safetensors")
    llm.add_argument("--out", required=True, help="output checkpoint folder")
    llm.add_argument("--method", choices=METHODS, default="block_influence")
    llm.add_argument(
        "--target",
        type=_target,
        default=_target("layers=0.75"),
        help="layers=F (keep that fraction of the decoder layers) or params=F (default "
        "layers=0.75)",
    )
    llm.add_argument(
        "--calibration", default="text", help="'text' (the zoo's English text) or a .txt/.jsonl"
    )
    llm.add_argument("--samples", type=positive, default=8, help="calibration sequences")
    llm.add_argument("--heldout", type=positive, default=4, help="perplexity sequences")
    llm.add_argument("--seq-len", type=positive, default=128)
    llm.add_argument("--batch-size", type=positive, default=8)
    llm.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1...")
    llm.add_argument("--dtype", choices=DTYPE_NAMES, default="float32", help="compute dtype")
    llm.add_argument(
        "--heal-steps",
        type=int,
        default=0,
        help="distillation steps from the original after pruning, on this machine (default 0; "
        "for many GPUs run 'torchrun ... -m prunekit.cli heal' instead)",
    )
    llm.add_argument("--heal-lr", type=float, default=1e-5)
    llm.add_argument("--quiet", action="store_true", help="no progress bars")
    llm.set_defaults(func=_llm)

    heal = commands.add_parser(
        "heal",
        help="distil the unpruned model into a pruned checkpoint (one process, or torchrun+FSDP)",
        description="Knowledge distillation (logit KL, optional hidden-state MSE) from TEACHER "
        "into STUDENT, written to --out. Under torchrun it shards both models with FSDP; it "
        "checkpoints every --checkpoint-every steps and resumes when run again.",
    )
    heal.add_argument("student", help="the pruned checkpoint folder")
    heal.add_argument("--teacher", required=True, help="the unpruned checkpoint folder")
    heal.add_argument("--out", required=True, help="output checkpoint folder (may be STUDENT)")
    heal.add_argument("--steps", type=positive, default=100)
    heal.add_argument("--lr", type=float, default=1e-5)
    heal.add_argument("--batch-size", type=positive, default=4, help="sequences per rank")
    heal.add_argument("--seq-len", type=positive, default=128)
    heal.add_argument("--sequences", type=positive, default=64, help="training sequences")
    heal.add_argument("--temperature", type=float, default=1.0)
    heal.add_argument("--hidden-weight", type=float, default=0.0, help="last hidden state MSE")
    heal.add_argument("--calibration", default="text", help="'text' or a .txt/.jsonl file")
    heal.add_argument("--checkpoint-every", type=positive, default=50)
    heal.add_argument(
        "--device", default="cpu", help="cpu or cuda (cuda:LOCAL_RANK under torchrun)"
    )
    heal.add_argument("--quiet", action="store_true")
    heal.set_defaults(func=_heal)


def _options(cls: type[T], args: argparse.Namespace) -> T:
    """An options dataclass from the parsed flags of the same names (--seq-len is seq_len);
    fields without a flag keep their defaults, and --quiet turns progress off."""
    given = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
    return cls(**given, progress=not args.quiet)


def _llm(args: argparse.Namespace) -> int:
    from prunekit.llm.report import MARKDOWN
    from prunekit.llm.run import LLMOptions, prune_llm

    report = prune_llm(args.model_dir, args.out, _options(LLMOptions, args))
    ppl, params = report["perplexity"], report["params"]
    print(
        f"prunekit llm: {report['layers']['before']} -> {report['layers']['after']} layers, "
        f"params {params['after'] / params['before']:.1%} of the original, perplexity "
        f"{ppl['before']:.2f} -> {ppl['after']:.2f}"
        + (f" -> {ppl['after_healing']:.2f} healed" if "after_healing" in ppl else "")
        + f"; checkpoint {args.out}, report "
        f"{args.out}/{MARKDOWN}"
    )
    return 0


def _heal(args: argparse.Namespace) -> int:
    from prunekit.llm.heal import HealOptions, heal

    log = heal(args.student, args.teacher, args.out, _options(HealOptions, args))
    if log["loss"]:
        print(
            f"prunekit heal: {len(log['loss'])} steps, loss {log['loss'][0]:.4f} -> "
            f"{log['loss'][-1]:.4f}; checkpoint {args.out}"
        )
    return 0
