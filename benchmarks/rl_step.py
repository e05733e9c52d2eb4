"""Seconds per online RL step for a ~1M-parameter policy at 64 prompts x 8 samples.

A randomly initialised 1M policy (it rarely emits EOS, so every completion runs to
`--new` tokens: the worst case) trains with GRPO on arith; the step time covers rollout,
reward, advantage, reference log-probs and the update.

    .venv/bin/python benchmarks/rl_step.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from priorlab.config import TrainConfig
from priorlab.models import build_policy, count_parameters
from priorlab.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algo", default="grpo")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--new", type=int, default=40)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        policy = build_policy("1m", max_len=64, seed=0)
        policy.meta = {"task_params": {}}
        policy.save(Path(tmp) / "prior")
        rows = args.prompts * args.group
        cfg = TrainConfig(
            model=f"{tmp}/prior",
            out=f"{tmp}/run",
            algo=args.algo,
            rollout_budget=rows * args.steps,
            prompts_per_step=args.prompts,
            group_size=args.group,
            max_new_tokens=args.new,
            minibatch_size=rows,
            eval_problems=1,
            eval_samples=1,
        )
        train(cfg, quiet=True)
        lines = (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()
        steps = [json.loads(x) for x in lines if "perf/step_s" in x]
    secs = [s["perf/step_s"] for s in steps[1:]]  # the first step warms up
    tokens = sum(s["response/length"] for s in steps[1:]) * rows / len(secs)
    print(
        f"{args.algo}: {count_parameters(policy.model) / 1e6:.2f}M params, {args.prompts} prompts"
        f" x {args.group} samples, {args.new} new tokens, threads {torch.get_num_threads()}"
    )
    print(
        f"seconds per RL step: mean {sum(secs) / len(secs):.2f} (min {min(secs):.2f}) over"
        f" {len(secs)} steps; {tokens / (sum(secs) / len(secs)):,.0f} sampled tokens/s end to end"
    )


if __name__ == "__main__":
    main()
