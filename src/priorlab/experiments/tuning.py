"""Equal tuning effort: every method x prior tries the same number of configurations on the
dev split, and only the best one, re-run on the sweep's own seeds, enters the verdict.

    tune:
      seeds: [1000]                              # the candidates' seeds, apart from `seeds`
      grid: {lr: [3.0e-5, 1.0e-4, 3.0e-4]}       # every method's candidates
      algos: {rcrl: {lr: [3.0e-4, 1.0e-3, 3.0e-3]}}   # a preset's own grid, same size

A grid key is a train field (lr, epochs, minibatches, ...) or `algo_params.<field>`. The
candidates of one method x prior x reward are runs like any other (same budget, same store,
same executor); each final run depends on them and, when they are finished, picks the
configuration with the best score: the mean dev pass@1 over the last third of its budget
(the plateau window of `priorlab.convergence`), averaged over the tuning seeds. A candidate
that failed (a diverged learning rate) is recorded and cannot be chosen; ties go to the
earlier configuration in grid order. Havrilla et al. 2024 tune each algorithm this way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from priorlab.config import TrainConfig, check_seed
from priorlab.errors import ConfigError
from priorlab.experiments.grid import grid

DEFAULT_SEEDS = [1000]
RULE = (
    "best mean dev pass@1 over the last third of the budget, averaged over tuning seeds; "
    "failed candidates excluded; ties: the earlier configuration"
)
# Fields a grid may not vary: what a run is, rather than how it is tuned.
FIXED = ("out", "model", "task", "task_params", "algo", "reward", "seed", "rollout_budget")


@dataclass(frozen=True)
class Tune:
    seeds: list
    grid: list  # [{key: value}] in grid order
    per_algo: dict  # preset name -> [{key: value}]

    def points(self, algo: str) -> list[dict]:
        return self.per_algo.get(algo, self.grid)


def parse_tune(block, shared: dict, run_seeds: list) -> Tune | None:
    """The validated `tune` block of a spec (None when absent); ConfigError names the field."""
    if block is None:
        return None
    if not isinstance(block, dict):
        raise ConfigError("tune", f"expected {{seeds, grid, algos}}, got {block!r}")
    extra = sorted(set(block) - {"seeds", "grid", "algos"})
    if extra:
        raise ConfigError(f"tune.{extra[0]}", "unknown key; valid: seeds, grid, algos")
    seeds = block.get("seeds", DEFAULT_SEEDS)
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) for s in seeds):
        raise ConfigError("tune.seeds", f"a non-empty list of integers, got {seeds!r}")
    for seed in seeds:
        check_seed(seed, "tune.seeds")
    shared_seeds = sorted(set(seeds) & set(run_seeds))
    if shared_seeds:
        raise ConfigError(
            "tune.seeds", f"{shared_seeds} also in `seeds`: final runs must use fresh seeds"
        )
    grid = _points(block.get("grid"), "tune.grid")
    per_algo = block.get("algos") or {}
    if not isinstance(per_algo, dict):
        raise ConfigError("tune.algos", f"a mapping of preset: grid, got {per_algo!r}")
    own = {name: _points(g, f"tune.algos.{name}") for name, g in per_algo.items()}
    for name, points in own.items():
        if len(points) != len(grid):
            raise ConfigError(
                f"tune.algos.{name}",
                f"{len(points)} configurations where every other method gets {len(grid)}: "
                "tuning effort must be equal",
            )
    if not shared.get("dev_every"):
        raise ConfigError("train.dev_every", "tuning selects on the dev split: set dev_every > 0")
    return Tune(list(seeds), grid, own)


def _points(values, where: str) -> list[dict]:
    """{key: [values]} -> the grid's points, keys validated."""
    if not isinstance(values, dict) or not values:
        raise ConfigError(where, f"a mapping of field: [values], got {values!r}")
    train_fields = {f.name for f in fields(TrainConfig)} - set(FIXED)
    for key in values:
        if not (key in train_fields or key.startswith("algo_params.")):
            raise ConfigError(
                f"{where}.{key}",
                "not a tunable field; valid: algo_params.<field> or "
                + ", ".join(sorted(train_fields)),
            )
    return grid(values, where)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def apply(point: dict, cfg: dict) -> dict:
    """A run config with a candidate's values set (algo_params.<field> into algo_params)."""
    out = {**cfg, "algo_params": dict(cfg.get("algo_params") or {})}
    for key, value in point.items():
        if key.startswith("algo_params."):
            out["algo_params"][key.removeprefix("algo_params.")] = value
        else:
            out[key] = value
    return out


def window(summary: dict) -> list[dict]:
    """The dev points a candidate is scored on: the last third of its completions."""
    curve = (summary.get("dev") or {}).get("curve") or []
    if not curve:
        return []
    start = 2 * curve[-1]["samples"] / 3
    return [p for p in curve if p["samples"] >= start]


def score(summary: dict) -> float | None:
    """Mean dev pass@1 over the last third of the run's completions; None without a curve."""
    points = window(summary)
    return sum(p["pass@1"] for p in points) / len(points) if points else None


def choose(candidates: list[dict], dirs: dict[str, str]) -> dict:
    """The selection record of a final run: every candidate's score, and the chosen point.

    `candidates` [{id, point, seed}] in grid order; `dirs` maps ids to run directories (a
    failed candidate has no summary.json there). Raises ConfigError when none succeeded.
    """
    rows, by_point = [], {}
    for cand in candidates:
        path = Path(dirs.get(cand["id"], "")) / "summary.json"
        value = score(json.loads(path.read_text())) if path.is_file() else None
        rows.append(
            {
                "run_id": cand["id"],
                "params": cand["point"],
                "seed": cand["seed"],
                "score": value,
                "status": "done" if value is not None else "failed",
            }
        )
        key = json.dumps(cand["point"], sort_keys=True)
        by_point.setdefault(key, (cand["point"], []))[1].append(value)
    means = [
        (sum(v) / len(v), point) for point, v in by_point.values() if all(x is not None for x in v)
    ]
    if not means:
        raise ConfigError("tune", "every tuning candidate failed: nothing to choose from")
    best = max(means, key=lambda m: m[0])  # max keeps the first of equal scores
    return {"rule": RULE, "candidates": rows, "chosen": best[1], "score": best[0]}
