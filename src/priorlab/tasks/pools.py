"""The problem pools of one training run: train, test and dev, drawn as a run draws them.

In one place so that a run and a check that needs no model (every preset's pools can be
drawn, tests/experiments/test_presets_build.py) cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from priorlab.errors import ConfigError
from priorlab.tasks.base import Problem, Task

EVAL_PROBLEM_SEED = 0
"""Every run of every algorithm is evaluated on the same test (and dev) problems."""


@dataclass(frozen=True)
class Pools:
    """A run's problems: the pool it trains on, the test and the dev problems."""

    train: list[Problem]
    test: list[Problem]
    dev: list[Problem]
    """Empty when the run checks no dev split."""


def run_pools(
    task: Task,
    *,
    seed: int,
    train_problems: int,
    eval_problems: int,
    eval_require: Iterable[str] = (),
    dev_problems: int = 0,
) -> Pools:
    """Train problems seeded by the run (seed + 1), test and dev by EVAL_PROBLEM_SEED;
    every test problem uses all of `eval_require`. dev_problems 0: no dev pool.

    A pool the task cannot fill is a ConfigError naming the TrainConfig field to change.
    """
    train = _draw("train_problems", task, "train", train_problems, seed=seed + 1)
    test = _draw(
        "eval_problems",
        task,
        "test",
        eval_problems,
        seed=EVAL_PROBLEM_SEED,
        require_skills=tuple(eval_require),
    )
    dev = _draw("dev_problems", task, "dev", dev_problems, seed=EVAL_PROBLEM_SEED)
    return Pools(train, test, dev)


def _draw(field: str, task: Task, split: str, n: int, **kwargs) -> list[Problem]:
    try:
        return task.problems(split, n, **kwargs) if n else []
    except ValueError as e:
        raise ConfigError(field, str(e)) from None
