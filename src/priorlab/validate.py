"""The rules a training run must satisfy before any model is loaded, written once.

A run is a (train config, algorithm, reward) triple. `Run` checks it with `validate_run`
before loading the policy, and sweep expansion checks every run of a spec with the same
function, so a sweep is refused before any job starts for exactly the reasons a run would
fail. Checks that need the loaded policy (roles, the tokenizer, the context) stay in `Run`.
"""

from __future__ import annotations

from priorlab.algos import Algorithm, make_algorithm
from priorlab.config import TrainConfig, check, validate_train
from priorlab.errors import ConfigError, lookup
from priorlab.rewards import check_pairing, get_reward, source


def validate_run(cfg: TrainConfig, *, on_disk: bool = True) -> Algorithm:
    """The run's algorithm (its preset with `algo_params` applied) once the config, the
    algorithm and the reward are each valid and fit together; otherwise ConfigError naming
    the first wrong field as TrainConfig spells it (UnknownName for an unknown reward).
    on_disk: also check the checkpoints a reward source reads (POLAR's pool of priors);
    false in sweep expansion, whose priors exist only once their jobs have run."""
    validate_train(cfg)
    check_task(cfg.task, cfg.task_params)
    algo = make_algorithm(cfg.algo, **cfg.algo_params)
    get_reward(cfg.reward, **cfg.reward_params)  # its name and its parameters
    files = source(cfg.reward).check_files
    if on_disk and files is not None:
        files(**cfg.reward_params)
    check_pairing(cfg.reward, algo, params=cfg.reward_params)
    if algo.step_labels:
        check_step_marks(cfg.task)
    need = max(algo.min_group_size, algo.keep_top)
    check(
        cfg.group_size >= need,
        "group_size",
        f"{cfg.algo} needs group_size >= {need}, got {cfg.group_size}",
    )
    per_step = cfg.prompts_per_step * cfg.group_size
    check(
        cfg.rollout_budget >= per_step,
        "rollout_budget",
        f"must be >= prompts_per_step x group_size = {per_step}, got {cfg.rollout_budget}",
    )
    check(
        algo.kind != "online" or cfg.minibatches <= per_step,
        "minibatches",
        f"must be <= the rows of one step ({per_step}), got {cfg.minibatches}",
    )
    return algo


def check_task(task: str, params: dict) -> None:
    """The task's name, and its knobs when given (empty: the prior's, read once it loads),
    as make_task takes them; ConfigError naming `task` or `task_params` otherwise."""
    from priorlab.tasks import TASKS, make_task

    try:
        make_task(task, **params) if params else lookup(TASKS, task, "task")
    except (ValueError, TypeError) as e:
        raise ConfigError("task_params" if params else "task", str(e)) from None


def check_step_marks(task: str) -> None:
    """RCRL's step labels need a task that marks its steps (`step_marks`): ConfigError
    naming algo.step_labels and the tasks that do, otherwise."""
    from priorlab.tasks import TASKS

    marked = [name for name, cls in TASKS.items() if getattr(cls, "step_marks", "")]
    check(
        task in marked,
        "algo.step_labels",
        f"task {task} marks no steps in its solutions; tasks that do: {', '.join(marked)}",
    )


def learning_rate(cfg: TrainConfig, algo: Algorithm) -> float:
    """The run's learning rate: the config's when set, else the preset's recommendation."""
    return cfg.lr if cfg.lr is not None else algo.lr
