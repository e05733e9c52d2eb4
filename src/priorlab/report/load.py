"""Reading a sweep directory: finished runs, their per-problem metrics and training logs.

A run is finished when `runs/<run_id>/summary.json` exists (it is written last, atomically);
other run directories are ignored. A run's cell.json may carry a "phase": "tune" runs are
hyper-parameter candidates of a tuned sweep (tuning_runs), "final" runs (or no phase: an
untuned sweep) are the ones the report analyses (finished_runs). Nothing here reruns
training or sampling.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from priorlab.errors import DataError, PriorlabError
from priorlab.metrics import ks_for, per_problem
from priorlab.samples import load_samples

CELL_KEYS = ("run_id", "algo", "prior", "seed")
PHASES = ("tune", "final")  # cell.json's "phase"; absent means "final" (an untuned sweep)
STAGES = {"initial": "samples_initial.parquet", "final": "samples_final.parquet"}


@dataclass(frozen=True, order=True)
class Run:
    """One finished run; sorts by (algo, prior, seed, run_id)."""

    algo: str
    prior: str
    seed: int
    run_id: str
    path: Path
    # {level: {"factor", "method"}} of a sweep with levels (see experiments/spec.py), else {}
    levels: dict = field(default_factory=dict, compare=False)
    # "tune" (a hyper-parameter candidate) or "final"
    phase: str = field(default="final", compare=False)
    reward: str | None = field(default=None, compare=False)  # cell.json's reward label, if any
    # the candidate's hyper-parameters (tune) or the chosen ones (final of a tuned sweep), else {}
    params: dict = field(default_factory=dict, compare=False)

    def cell(self) -> dict:
        """The run's identity as stored in report.json (no paths)."""
        return {"run_id": self.run_id, "algo": self.algo, "prior": self.prior, "seed": self.seed}


def finished_ids(sweep_dir: str | Path) -> set[str]:
    """The ids of the run directories under `sweep_dir/runs` that hold a summary.json."""
    runs_dir = Path(sweep_dir) / "runs"
    found = runs_dir.iterdir() if runs_dir.is_dir() else []
    return {path.name for path in found if (path / "summary.json").is_file()}


def finished_runs(sweep_dir: str | Path, ids=None) -> list[Run]:
    """Every finished final run under `sweep_dir/runs` (of `ids` only, when given), sorted
    (tune runs left out); raises PriorlabError when there is none."""
    every = _finished(Path(sweep_dir) / "runs", ids)
    runs = [run for run in every if run.phase == "final"]
    if not runs:
        tuning = len(every) - len(runs)
        waiting = f"; {tuning} tuning runs are done, the final runs follow them" if tuning else ""
        raise PriorlabError(
            f"{Path(sweep_dir) / 'runs'}: no finished runs (a run is finished when "
            f"runs/<run_id>/summary.json exists){waiting}; run the sweep first, or point at the "
            "sweep directory"
        )
    seen: dict[tuple, str] = {}
    for run in runs:
        key = (run.algo, run.prior, run.seed)
        if key in seen:
            raise DataError(
                f"runs {seen[key]!r} and {run.run_id!r} are both algo={run.algo!r}, "
                f"prior={run.prior!r}, seed={run.seed}; each cell needs a distinct seed"
            )
        seen[key] = run.run_id
    return runs


def tuning_runs(sweep_dir: str | Path, ids=None) -> list[Run]:
    """The finished "tune" runs (hyper-parameter candidates) of a tuned sweep (of `ids`
    only, when given), sorted."""
    return [run for run in _finished(Path(sweep_dir) / "runs", ids) if run.phase == "tune"]


def _finished(runs_dir: Path, ids=None) -> list[Run]:
    """Every run directory with a summary.json (named in `ids`, when given), sorted."""
    runs = []
    for run_dir in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []:
        if not (run_dir / "summary.json").is_file() or (
            ids is not None and run_dir.name not in ids
        ):
            continue
        cell_path = run_dir / "cell.json"
        cell = _read_json(cell_path, "the run's cell")
        missing = [key for key in CELL_KEYS if key not in cell]
        if missing:
            raise DataError(f"{cell_path}: lacks keys {missing}; required: {list(CELL_KEYS)}")
        phase = cell.get("phase", "final")
        if phase not in PHASES:
            raise DataError(f"{cell_path}: phase={phase!r}; valid: {list(PHASES)} or absent")
        params = cell.get("candidate" if phase == "tune" else "chosen") or {}
        if not isinstance(params, dict):
            raise DataError(f"{cell_path}: `candidate`/`chosen` must map fields to values")
        algo, prior, seed, run_id = (cell[key] for key in ("algo", "prior", "seed", "run_id"))
        levels = _levels(cell.get("levels", {}), cell_path)
        reward = None if cell.get("reward") is None else str(cell["reward"])
        runs.append(
            Run(
                str(algo),
                str(prior),
                int(seed),
                str(run_id),
                run_dir,
                levels,
                phase,
                reward,
                params,
            )
        )
    return sorted(runs)


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read {what} ({err})") from None


def run_summary(run: Run) -> dict:
    """The run's summary.json (its optional "dev", "convergence" and "vs_prior"); {} if empty."""
    summary = _read_json(run.path / "summary.json", "the run's summary")
    if not isinstance(summary, dict):
        raise DataError(f"{run.path / 'summary.json'}: must hold a JSON object")
    return summary


def run_selection(run: Run) -> dict | None:
    """The selection.json of a final run of a tuned sweep (its candidates and the chosen
    hyper-parameters), or None when the run has none."""
    path = run.path / "selection.json"
    if not path.is_file():
        return None
    selection = _read_json(path, "the tuning selection")
    if not isinstance(selection, dict) or not isinstance(selection.get("candidates", []), list):
        raise DataError(f"{path}: must be an object with a `candidates` list")
    return selection


def _levels(levels, cell_path: Path) -> dict:
    """A cell's `levels`, checked to be {level: {"factor": str, "method": str}}."""
    ok = isinstance(levels, dict) and all(
        isinstance(tag, dict) and {"factor", "method"} <= set(tag) for tag in levels.values()
    )
    if not ok:
        raise DataError(
            f"{cell_path}: `levels` must map each level to {{factor, method}}, got {levels!r}"
        )
    return {
        str(k): {"factor": str(t["factor"]), "method": str(t["method"])} for k, t in levels.items()
    }


def run_metrics(run_dir: str | Path, stage: str = "final", *, seed: int = 0) -> pd.DataFrame:
    """Per-problem metrics of one run's evaluation table (`stage`: "initial" prior or "final").

    metrics.per_problem's columns (problem_id, n, c, pass@k, maj@k for k in ks_for(n), ...)
    plus `entropy`, the mean token entropy of the problem's sampled (non-greedy) rows.
    """
    if stage not in STAGES:
        raise ValueError(f"stage={stage!r}; valid: {sorted(STAGES)}")
    path = Path(run_dir) / STAGES[stage]
    if not path.is_file():
        raise DataError(f"{path}: missing; a finished run needs {list(STAGES.values())}")
    samples = load_samples(path)
    try:
        table = per_problem(samples, seed=seed)
    except ValueError as err:
        raise DataError(f"{path}: {err}") from None
    greedy = samples.get("greedy", pd.Series(False, index=samples.index))
    entropy = samples[~greedy.fillna(False).astype(bool)].groupby("problem_id")["entropy"].mean()
    table["entropy"] = table["problem_id"].map(entropy).astype(float)
    return table


def number(value) -> float | None:
    """value as a float when it is a finite number (not a bool), else None."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def training_rows(run_dir: str | Path) -> list[dict]:
    """Training rows of `metrics.jsonl` (rows with "step" and no "eval/..." key); [] if absent."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}, line {line_no}: not JSON ({err.msg})") from None
        if "step" in row and not any(str(key).startswith("eval/") for key in row):
            rows.append(row)
    return rows


@dataclass
class Tables:
    """Per-problem metrics of every run, stacked: arrays are (runs, problems)."""

    runs: list[Run]
    problem_ids: list[str]
    n: int
    final: dict[str, np.ndarray]
    initial: dict[str, np.ndarray]

    @property
    def ks(self) -> list[int]:
        return ks_for(self.n)

    def lacking(self, key: str, idx) -> list[str]:
        """The run ids among runs[idx] whose initial or final `key` is NaN on some problem
        (for "greedy": a table without a greedy decode of every problem)."""
        return [
            self.runs[i].run_id
            for i in idx
            if np.isnan(self.final[key][i]).any() or np.isnan(self.initial[key][i]).any()
        ]


def load_tables(runs: list[Run], *, seed: int = 0) -> Tables:
    """run_metrics of every run, checked to share problem ids and n, stacked per metric.

    Metric keys: "c", "pass@k" and "maj@k" for k in ks_for(n), "entropy", and "greedy": the
    problem's one greedy decode correct (1.0) or not (0.0), NaN where the table has no greedy
    row for it (tables written without greedy decodes: all NaN).
    """
    stacks: dict[str, dict[str, list]] = {"final": {}, "initial": {}}
    problem_ids: list[str] | None = None
    n = None
    for run in runs:
        for stage, stack in stacks.items():
            table = run_metrics(run.path, stage, seed=seed)
            ids = table["problem_id"].astype(str).tolist()
            if problem_ids is None:
                problem_ids, n = ids, int(table["n"].iloc[0])
            elif ids != problem_ids or int(table["n"].iloc[0]) != n:
                raise DataError(
                    f"{run.path / STAGES[stage]}: problems or samples per problem differ from "
                    f"run {runs[0].run_id!r}; all runs of a sweep must share the test set and n"
                )
            keys = ["c", "entropy", *[f"{m}@{k}" for m in ("pass", "maj") for k in ks_for(n)]]
            for key in keys:
                stack.setdefault(key, []).append(table[key].to_numpy(dtype=float))
            greedy = table.get("greedy_correct", pd.Series(np.nan, index=table.index))
            stack.setdefault("greedy", []).append(greedy.to_numpy(dtype=float))
    final = {key: np.stack(rows) for key, rows in stacks["final"].items()}
    initial = {key: np.stack(rows) for key, rows in stacks["initial"].items()}
    return Tables(runs, problem_ids, n, final, initial)
