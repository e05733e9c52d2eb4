"""Drive a small sweep from Python and read its report.

    python examples/python_api.py [OUT] [--size tiny|small]

One prior, two algorithms (GRPO and expert iteration), two seeds, at an equal rollout
budget: `priorlab.compare` pretrains the prior, trains the four runs, evaluates them and
writes report.{json,md,html} into OUT (default runs/python_api). `--size tiny` (what the
test runs) shrinks every count to a smoke test: its verdict means nothing, but every
step runs. Rerunning skips the finished runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import priorlab

SIZES = {  # what sets the time: the prior's size and steps, the budget, the test problems
    "tiny": {"size": "0.1m", "steps": 20, "budget": 32, "tokens": 12, "eval_problems": 4},
    "small": {"size": "1m", "steps": 400, "budget": 512, "tokens": 28, "eval_problems": 50},
}


def spec(size: str) -> dict:
    """The sweep: the same dict a YAML spec would hold (`priorlab compare spec.yaml`)."""
    knobs = SIZES[size]
    return {
        "name": f"python_api_{size}",
        "task": "arith",
        "task_params": {"steps": 2, "ops": ["+", "-"]},
        "budget": knobs["budget"],  # rollout completions per run: the equal-budget axis
        "seeds": [0, 1],
        "algos": ["grpo", "ei"],
        "priors": [{"label": "short", "steps": knobs["steps"]}],
        "pretrain": {"size": knobs["size"], "corpus_size": 2000, "lr": 2.0e-3},
        "train": {
            "train_problems": 500,
            "max_new_tokens": knobs["tokens"],
            "eval_problems": knobs["eval_problems"],
            "eval_samples": 4,
            "prompts_per_step": 8,
            "group_size": 4,
            "rounds": 1,  # expert iteration: one round of sampling and fine-tuning
            "ft_epochs": 1,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="runs/python_api", help="Sweep directory.")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--workers", type=int, default=2, help="Parallel jobs.")
    args = parser.parse_args()

    sweep = priorlab.compare(spec(args.size), args.out, workers=args.workers)
    print(f"jobs: {sweep.counts}")
    if sweep.counts["failed"]:
        raise SystemExit(f"some jobs failed: see `priorlab status {sweep.out}`")

    report = json.loads((Path(sweep.out) / "report.json").read_text())  # = sweep.report
    print(f"verdict: {report['verdict_line']}")
    for line in report.get("verdict_lines", []):
        print(f"  {line}")

    # Every run's own summary is there too, e.g. to plot pass@1 against the budget.
    runs = [json.loads(p.read_text()) for p in Path(sweep.out).glob("runs/*/summary.json")]
    for s in sorted(runs, key=lambda s: (s["algo"], s["seed"])):
        print(f"  {s['algo']:5s} seed {s['seed']}: pass@1 {s['final']['eval/pass@1']:.3f}")


if __name__ == "__main__":
    main()
