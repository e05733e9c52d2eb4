"""Time and memory of BroRL-style broad groups against grpo's, from one prior, in one
process (issue 26): each recipe trains for 1,024 completions on one torch thread.

    python benchmarks/broad_groups.py PRIOR_DIR [--task-params JSON]

PRIOR_DIR: a prior trained on the task (e.g. a discovery-dial prior under
<sweep>/priors/). Prints wall time, steps, optimiser steps and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time

import torch

from priorlab import train
from priorlab.config import TrainConfig

RECIPES = {  # label -> train fields
    "grpo 32x8": {"algo": "grpo"},
    "prorl 8x8 T1.2": {"algo": "prorl", "prompts_per_step": 8, "temperature": 1.2},
    "brorl 2x128": {"algo": "prorl", "group_size": 128, "prompts_per_step": 2},
    "brorl 1x256": {"algo": "prorl", "group_size": 256, "prompts_per_step": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prior")
    parser.add_argument("--task-params", default='{"steps": 2, "ops": ["+", "-", "*"], '
                        '"operand_max": 5}')  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(1)
    common = dict(model=args.prior, task_params=json.loads(args.task_params),
                  rollout_budget=1024, train_problems=1000, max_new_tokens=28, eval_problems=8,
                  eval_samples=4, tensorboard=False, seed=0)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for label, fields in RECIPES.items():
            t0 = time.perf_counter()
            out = f"{tmp}/{label.replace(' ', '_')}"
            s = train(TrainConfig(**common, **fields, out=out), quiet=True)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{label:16s} {time.perf_counter() - t0:6.1f} s  steps {s['steps']:3d}  "
                  f"updates {s['updates']:3d}  peak RSS {rss:.0f} MB", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
