"""Tasks: seeded synthetic reasoning problems with gold solutions and verifiers.

`tasks/` never imports `models/` or `algos/`: a task knows no model.
"""

from priorlab.errors import lookup
from priorlab.tasks.arith import Arith
from priorlab.tasks.base import Problem, Task, Verdict, split_of
from priorlab.tasks.countdown import Countdown

TASKS = {"arith": Arith, "countdown": Countdown}


def make_task(name: str, **params) -> Task:
    """The task `name` with its knobs; ValueError naming the task or knob when invalid."""
    cls = lookup(TASKS, name, "task")
    try:
        return cls(**params)
    except TypeError as e:
        raise ValueError(f"task_params: {name} does not take {e}".rstrip()) from None


__all__ = ["TASKS", "Arith", "Countdown", "Problem", "Task", "Verdict", "make_task", "split_of"]
