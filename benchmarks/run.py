"""Every method's benchmark against its baselines and anchors, in one command (issue 10).

    .venv/bin/python benchmarks/run.py --quick   # under 30 minutes on 2 CPU cores, 1 seed
    .venv/bin/python benchmarks/run.py           # the full profile: 3 seeds (hours on 2 cores)
    .venv/bin/python benchmarks/run.py --profile tiny --out /tmp/bench   # the test suite's check

Each job is one benchmark script in its own process, writing JSON into --out; when all have
run, render.py turns the JSON into --doc (tables, accuracy-versus-size plots, the distance of
each method to its anchor). The profile and every job's command and time go to
OUT/harness.json; running the same command again skips the jobs already done (--force reruns
them). --only NAME... runs some jobs. Defaults: the full profile writes benchmarks/results and
docs/benchmarks.md; --quick writes benchmarks/results/quick and docs/benchmarks-quick.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent

# profile -> job name -> arguments of python benchmarks/<script>.py (--out is added)
PROFILES: dict[str, dict[str, str]] = {
    "full": {
        "basis-lite0": "basis.py --model lite0",
        "basis-resnet18": "basis.py --model resnet18 --size 32",
        "basis-resnet18-hard": "basis.py --model resnet18 --size 32 --hard --points 0.1 0.05 0.025",
        "adaptive-mnist1d": "adaptive.py --dataset mnist1d",
        "adaptive-mnist1d-hard": "adaptive.py --dataset mnist1d --hard --keep 0.25",
        "adaptive-digits": "adaptive.py --dataset digits",
        "sglp-mnist1d": "sglp.py classify --dataset mnist1d",
        "sglp-mnist1d-hard": "sglp.py classify --dataset mnist1d --hard",
        "sglp-digits": "sglp.py classify --dataset digits",
        "sglp-minilm": "sglp.py minilm",
        "sglp-lm": "sglp.py lm",
        "sfp-mnist1d": "sfp.py --dataset mnist1d",
        "sfp-digits": "sfp.py --dataset digits",
        "features": "features.py",
        "patch-scores": "patch_scores.py",
        "sglp-cka-cost": "cka_cost.py",
        "scaling": "scaling.py",
    },
    "quick": {
        "basis-lite0": "basis.py --model lite0 --seeds 1 --size 32 --points 0.1 0.05 "
        "--epochs 6 --finetune 4",
        "adaptive-digits": "adaptive.py --dataset digits --seeds 1 --epochs 6",
        "sglp-digits": "sglp.py classify --dataset digits --seeds 1 --epochs 8",
        "sfp-mnist1d": "sfp.py --dataset mnist1d --seeds 1 --epochs 10",
        "features": "features.py --seeds 1 --epochs 60 --conv-epochs 20",
    },
    "tiny": {
        "basis-lite0": "basis.py --model lite0 --seeds 1 --size 16 --epochs 1 --basis-epochs 1 "
        "--finetune 1 --points 0.3 --methods basis channel-taylor tp-l2",
        "adaptive-digits": "adaptive.py --dataset digits --seeds 1 --epochs 1 --sparse 1 "
        "--finetune 1",
        "sglp-digits": "sglp.py classify --dataset digits --seeds 1 --epochs 1 --finetune 1",
        "sfp-mnist1d": "sfp.py --dataset mnist1d --seeds 1 --epochs 1 --rates 0.5",
        "features": "features.py --seeds 1 --epochs 2 --conv-epochs 2",
    },
}
DEFAULTS = {  # profile -> (results directory, doc)
    "full": (HERE / "results", ROOT / "docs" / "benchmarks.md"),
    "quick": (HERE / "results" / "quick", ROOT / "docs" / "benchmarks-quick.md"),
    "tiny": (HERE / "results" / "tiny", ROOT / "docs" / "benchmarks-tiny.md"),
}


def run_job(name: str, arguments: str, out: Path) -> float:
    script, *rest = arguments.split()
    command = [sys.executable, str(HERE / script), "--out", str(out), *rest]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(HERE)])}
    print(f"[bench] {name}: {arguments}", flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, env=env)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=tuple(PROFILES), default="full")
    parser.add_argument("--quick", action="store_true", help="the same as --profile quick")
    parser.add_argument("--only", nargs="+", help="job names (default: every job of the profile)")
    parser.add_argument("--out", type=Path, help="results directory")
    parser.add_argument("--doc", type=Path, help="markdown page to render into")
    parser.add_argument("--force", action="store_true", help="rerun jobs already done")
    args = parser.parse_args(argv)
    profile = "quick" if args.quick else args.profile
    jobs = PROFILES[profile]
    unknown = sorted(set(args.only or ()) - set(jobs))
    if unknown:
        parser.error(f"unknown job(s) {unknown} in profile {profile}; available: {sorted(jobs)}")
    out = (args.out or DEFAULTS[profile][0]).resolve()
    doc = args.doc or (args.out / "benchmarks.md" if args.out else DEFAULTS[profile][1])
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "harness.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {"jobs": {}}
    log["profile"] = profile
    for name in args.only or jobs:
        done = log["jobs"].get(name)
        if done and done["arguments"] == jobs[name] and not args.force:
            print(f"[bench] {name}: done already ({done['seconds']:.0f} s), skipped", flush=True)
            continue
        if args.force:  # every job writes OUT/<name>.json; resumable jobs would reuse it
            (out / f"{name}.json").unlink(missing_ok=True)
        seconds = run_job(name, jobs[name], out)
        log["jobs"][name] = {"arguments": jobs[name], "seconds": seconds}
        log_path.write_text(json.dumps(log, indent=1) + "\n")
    log["total_seconds"] = sum(log["jobs"][name]["seconds"] for name in jobs if name in log["jobs"])
    log_path.write_text(json.dumps(log, indent=1) + "\n")
    sys.path.insert(0, str(HERE))
    import render

    render.render(out, doc)
    print(f"[bench] {profile}: {log['total_seconds']:.0f} s of jobs; results in {out}, page {doc}")


if __name__ == "__main__":
    main()
