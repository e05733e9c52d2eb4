"""The entropy-performance law per run (Cui et al. 2025, arXiv 2505.22617).

Cui et al. fit R = -a exp(H) + b on one run's trajectory of (policy entropy H, validation
accuracy R) and read b - a, the accuracy at H = 0, as the run's predicted ceiling. Here each
final run is fitted on its own training rows that log both policy/entropy and task/accuracy
(the verifier's accuracy, not the optimised reward, which a proxy reward can inflate), by
stats.fit_entropy_reward (least squares, linear in a, b: R regressed on exp(H)). The report
gives, per algorithm, the distribution over its runs of a, b, the ceiling b - a, and beside it the
measured final test pass@1 of the same runs. A run with fewer than MIN_ROWS rows, a constant
entropy or a non-finite fit is counted as "unfitted". The older pooled fit on reward/mean
(report "entropy") is kept as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from priorlab.report.load import Run, number, training_rows
from priorlab.report.stats import fit_entropy_reward

MIN_ROWS = 3
ENTROPY_KEY, ACCURACY_KEY = "policy/entropy", "task/accuracy"


def fit_run(entropy: Sequence[float], accuracy: Sequence[float]) -> dict | None:
    """{a, b, ceiling} of R = -a exp(H) + b (stats.fit_entropy_reward); None with fewer than
    MIN_ROWS points, a constant H or a non-finite result."""
    h = np.asarray(entropy, dtype=float)
    if len(h) < MIN_ROWS or np.ptp(h) == 0:
        return None
    fit = fit_entropy_reward(h, accuracy)
    if not (np.isfinite(fit["a"]) and np.isfinite(fit["b"])):
        return None
    return {key: fit[key] for key in ("a", "b", "ceiling")}


def run_points(run: Run) -> tuple[list[float], list[float]]:
    """(policy/entropy, task/accuracy) of the run's training rows that log both."""
    hs, rs = [], []
    for row in training_rows(run.path):
        h, r = number(row.get(ENTROPY_KEY)), number(row.get(ACCURACY_KEY))
        if h is not None and r is not None:
            hs.append(h)
            rs.append(r)
    return hs, rs


def _spread(values: list[float]) -> dict:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": float(np.median(values)), "min": min(values), "max": max(values)}


def entropy_law(runs: list[Run], final_pass1: Sequence[float]) -> list[dict]:
    """Per algo (sorted): [{algo, n_runs (fitted), unfitted, a, b, ceiling, final_pass1}], each
    of the last four {median, min, max} over the fitted runs; final_pass1[i] is run i's mean
    final test pass@1."""
    fits: dict[str, list[tuple[dict, float]]] = defaultdict(list)
    unfitted: dict[str, int] = defaultdict(int)
    for run, final in zip(runs, final_pass1, strict=True):
        fit = fit_run(*run_points(run))
        if fit is None:
            unfitted[run.algo] += 1
        else:
            fits[run.algo].append((fit, float(final)))
    out = []
    for algo in sorted({run.algo for run in runs}):
        rows = fits.get(algo, [])
        entry = {"algo": algo, "n_runs": len(rows), "unfitted": unfitted.get(algo, 0)}
        for key in ("a", "b", "ceiling"):
            entry[key] = _spread([fit[key] for fit, _ in rows])
        entry["final_pass1"] = _spread([final for _, final in rows])
        out.append(entry)
    return out
