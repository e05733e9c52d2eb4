"""Tasks: problems with gold solutions and verifiers, synthetic or read from local files.

Synthetic (arith, countdown) are drawn from a seed; dataset-backed (gsm8k, svamp) read
local files and never download. `tasks/` never imports `models/` or `algos/`: a task
knows no model. Adding a task is one file here plus its entry in `TASKS` and its test.
"""

from __future__ import annotations

import inspect

from priorlab.errors import InvalidValue, lookup
from priorlab.tasks.arith import Arith
from priorlab.tasks.base import Problem, Task, Verdict, split_of
from priorlab.tasks.countdown import Countdown
from priorlab.tasks.gsm8k import GSM8K
from priorlab.tasks.svamp import SVAMP

TASKS: dict[str, type] = {"arith": Arith, "countdown": Countdown, "gsm8k": GSM8K, "svamp": SVAMP}
SYNTHETIC = ("arith", "countdown")
"""Tasks drawn from a seed, needing no data files (the others read local files)."""


def make_task(name: str, **params) -> Task:
    """The task `name` built with its knobs `params`.

    InvalidValue (a ValueError) names an unknown task (listing the valid ones), an unknown
    knob (listing the task's knobs), or a knob's invalid value (with what is accepted).
    """
    cls = lookup(TASKS, name, "task")
    knobs = [k for k in inspect.signature(cls).parameters if k != "self"]
    unknown = sorted(set(params) - set(knobs))
    if unknown:
        raise InvalidValue(
            f"task_params: {name} has no knob {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(knobs)}"
        )
    return cls(**params)


__all__ = [
    "GSM8K",
    "SVAMP",
    "SYNTHETIC",
    "TASKS",
    "Arith",
    "Countdown",
    "Problem",
    "Task",
    "Verdict",
    "make_task",
    "split_of",
]
