"""Run prunekit.llm.heal in this process (one of torchrun's, or alone) and dump its log and
final weights per rank: python tests/llm_heal_run.py STUDENT TEACHER OUT STEPS [STOP_AFTER]."""

from __future__ import annotations

import json
import os
import sys

import torch


def main() -> None:
    torch.set_num_threads(1)
    from prunekit.llm.heal import HealOptions, heal

    student, teacher, out, steps = sys.argv[1:5]
    stop = int(sys.argv[5]) if len(sys.argv) > 5 else None
    options = HealOptions(
        steps=int(steps), lr=1e-3, batch_size=2, seq_len=16, sequences=8, checkpoint_every=1,
        progress=False,
    )  # fmt: skip
    log = heal(student, teacher, out, options, stop_after=stop)
    rank = os.environ.get("RANK", "0")
    with open(f"{out}.log.{rank}.json", "w", encoding="utf-8") as handle:
        json.dump(log["loss"], handle)


if __name__ == "__main__":
    main()
