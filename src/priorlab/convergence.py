"""Did a run stop improving, and did it end below its own prior? Two checks a verdict needs.

- `plateau`: the dev-split learning curve over the last third of the run's completions. The
  fitted change of dev pass@1 across that window, with a 95% CI; "converged" when the whole
  CI lies within +-tol (default 2 points of pass@1), "improving" / "declining" when it lies
  above / below 0, else "undetermined" (too noisy to tell).
- `vs_prior`: final minus initial test pass@1, paired per test problem; "collapsed" when the
  whole 95% CI lies below 0.

Choices (the papers compare at convergence without a stated test): the slope is ordinary
least squares over the window's dev points; each point's variance is its sampling variance
(known: sum_p r_p (1 - r_p) / n / P^2 over the P dev problems' pass rates r_p from n
samples each), inflated by the Birge ratio max(1, chi^2 / df) when the points scatter more
than sampling explains (a policy that oscillates). The window's change is slope x width.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

Z95 = 1.959964
SE_FLOOR = 1e-3  # a point whose every problem is 0% or 100% still carries some noise


def dev_point(samples: pd.DataFrame) -> dict:
    """{"pass@1", "se"} of a per-sample table (problem_id, correct): the mean over problems of
    each problem's pass rate, and its sampling standard error, sqrt(sum_p r_p (1 - r_p) /
    (n - 1)) / P: r_p (1 - r_p) n / (n - 1) is the unbiased estimate of a problem's Bernoulli
    variance, divided by its n draws."""
    rates = samples.groupby("problem_id")["correct"].mean().to_numpy(dtype=float)
    n = len(samples) / len(rates)
    var = float((rates * (1 - rates)).sum() / max(n - 1, 1) / len(rates) ** 2)
    return {"pass@1": float(rates.mean()), "se": math.sqrt(var)}


def plateau(curve: list[dict], *, tol: float = 0.02) -> dict:
    """Convergence of a dev curve [{"samples", "pass@1", "se"}] over its last third.

    The window is [2/3 end, end], end = the last point's completions; at least 3 points.
    Returns {"status", "change", "ci", "tol", "window", "points"} (change and ci in pass@1).
    """
    end = curve[-1]["samples"] if curve else 0
    start = 2 * end / 3
    window = [p for p in curve if p["samples"] >= start]
    out = {"tol": tol, "window": [start, end], "points": len(window), "change": None, "ci": None}
    if len(window) < 3 or end <= 0:
        return {**out, "status": "too few points"}
    x = np.array([p["samples"] for p in window], dtype=float)
    y = np.array([p["pass@1"] for p in window], dtype=float)
    var = np.maximum(np.array([p["se"] for p in window], dtype=float), SE_FLOOR) ** 2
    dx = x - x.mean()
    sxx = float((dx**2).sum())
    slope = float((dx * y).sum() / sxx)
    resid = y - (y.mean() + slope * dx)
    chi2 = float((resid**2 / var).sum())
    birge = max(1.0, chi2 / (len(window) - 2))
    se = math.sqrt(float((dx**2 * var).sum()) / sxx**2 * birge)
    width = end - start
    change, half = slope * width, Z95 * se * width
    lo, hi = change - half, change + half
    if -tol <= lo and hi <= tol:
        status = "converged"
    elif lo > 0:
        status = "improving"
    elif hi < 0:
        status = "declining"
    else:
        status = "undetermined"
    return {**out, "status": status, "change": change, "ci": [lo, hi]}


def vs_prior(initial: pd.DataFrame, final: pd.DataFrame) -> dict:
    """Final minus initial pass@1, paired per problem (the sampled rows of two per-sample
    tables on the same problems): {"gain", "ci", "status", "problems"}, t interval."""

    def rates(table):
        rows = table[~table["greedy"].astype(bool)] if "greedy" in table else table
        return rows.groupby("problem_id")["correct"].mean()

    d = (rates(final) - rates(initial)).dropna().to_numpy(dtype=float)
    gain = float(d.mean())
    if len(d) < 2:
        return {"gain": gain, "ci": None, "status": "unchanged", "problems": len(d)}
    half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    lo, hi = gain - half, gain + half
    status = "collapsed" if hi < 0 else "gained" if lo > 0 else "unchanged"
    return {"gain": gain, "ci": [lo, hi], "status": status, "problems": len(d)}
