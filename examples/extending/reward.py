"""A new reward source, written outside priorlab: the verifier, gated by length.

    python examples/extending/reward.py [OUT]

Defines the source, registers it under "brevity_verifier" at import, and `main` trains
GRPO on it from a tiny prior for a few seconds, printing the metric it logs
(`brevity/over_budget`). From a config: `reward="brevity_verifier",
reward_params={"max_tokens": 20}`, in a process that imported this file.
Its test: tests/test_extending.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from priorlab import pretrain, train
from priorlab.errors import ConfigError
from priorlab.rewards import SOURCES, Source
from priorlab.rewards.base import RewardIn, RewardOut


def brevity_verifier(given: RewardIn, *, max_tokens: int = 24) -> RewardOut:
    """1 when the verifier accepts the answer within `max_tokens` generated tokens, else 0.

    r_i = 1[correct_i] * 1[L_i <= max_tokens], L_i = given.samples.lengths[i] (EOS
    included): a budget tighter than max_new_tokens, a hard form of a length penalty.
    Metric: brevity/over_budget, the share of completions longer than max_tokens.
    """
    lengths = given.samples.lengths.tolist()  # (B,)
    rewards = [float(v.correct and n <= max_tokens) for v, n in zip(given.verdicts, lengths)]
    over = sum(n > max_tokens for n in lengths) / len(lengths)
    return RewardOut(rewards, metrics={"brevity/over_budget": over})


def check_params(*, max_tokens: int = 24) -> None:
    """ConfigError naming reward_params.max_tokens unless it is at least 1."""
    if max_tokens < 1:
        raise ConfigError("reward_params.max_tokens", f"must be >= 1, got {max_tokens}")


# Registration: SOURCES, the one table of reward sources, declares it (its check; no role,
# estimator or terms of its own); `get_reward` and `reward_params` read it.
SOURCES["brevity_verifier"] = Source(brevity_verifier, check=check_params)

# --- a brief run from Python -------------------------------------------------------------

PRIOR = dict(  # a 0.1M-parameter prior on two-step + and - arithmetic: half a minute on a CPU
    size="0.1m", steps=200, corpus_size=500, batch_size=32,
    task_params={"steps": 2, "ops": ["+", "-"]},
)  # fmt: skip
TRAIN = dict(  # 4 steps of 4 prompts x 4 samples, completions long enough for the gold (~20)
    rollout_budget=64, prompts_per_step=4, group_size=4, max_new_tokens=28,
    train_problems=200, eval_problems=8, eval_samples=4, tensorboard=False,
)  # fmt: skip


def main(out: str = "runs/extending/brevity", prior: str | None = None) -> list[dict]:
    """Train GRPO on the brevity-gated verifier from `prior` (pretrained into OUT/prior when
    None); print and return the logged training steps."""
    prior = prior or pretrain(out=f"{out}/prior", **PRIOR)
    train(
        model=prior,
        out=f"{out}/run",
        algo="grpo",
        reward="brevity_verifier",
        reward_params={"max_tokens": 20},
        **TRAIN,
    )
    rows = [json.loads(line) for line in Path(out, "run", "metrics.jsonl").read_text().splitlines()]
    steps = [row for row in rows if "brevity/over_budget" in row]
    shown = ("brevity/over_budget", "reward/mean", "task/accuracy")  # reward <= accuracy
    for row in steps:
        print(f"step {row['step']}: " + "  ".join(f"{key} {row[key]:.3f}" for key in shown))
    return steps


if __name__ == "__main__":
    main(*sys.argv[1:2])
