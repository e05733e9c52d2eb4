"""Did a run stop improving, and did it end below its own prior? The checks a verdict needs.

- `plateau`: one run's dev-split learning curve over the last third of its completions (or
  its last MIN_POINTS dev points, when the last third holds fewer). The
  fitted change of dev pass@1 across that window, with a 95% CI; "converged" when the whole
  CI lies within +-tol (default 2 points of pass@1), "improving" / "declining" when it lies
  above / below 0, else "undetermined" (too noisy to tell).
- `cell_plateau`: the same question for a method x prior cell, the unit the verdict compares:
  the mean of its S seeds' window changes, with a t interval on S - 1 df (or the runs' known
  sampling interval, when wider).
- `vs_prior`: final minus initial test pass@1, paired per test problem, as the run saw it
  ("collapsed" when the whole 95% CI lies below 0); the sweep report re-tests it with a
  margin and Holm across the sweep's runs (report/collapse.collapses).

The change: ordinary least squares over the window's n >= MIN_POINTS dev points, slope x
window width. A point's variance is its sampling variance (known: sum_p r_p (1 - r_p) /
(m - 1) / P^2 over the P dev problems' pass rates r_p from m samples each), which gives the
change a known variance. Per run, ratio = chi^2 / (n - 2) of the residuals says how much
more the points scatter than sampling explains (a policy that oscillates); the 95% half-width
is max(z sqrt(known), t(n - 2) sqrt(known x ratio)): the known interval, or the residual
one (variance estimated, hence t) when that is wider. Per cell of S runs, half = max(z
sqrt(sum known) / S, t(S - 1) sd / sqrt(S)), sd that of the S run changes: dev sampling,
oscillation and seed-to-seed heterogeneity all land in that spread, with no noise model, and
the known part keeps a lucky small spread from reading as certainty.

The design asked, per run, for z x sqrt(known) when ratio <= 1 and t x sqrt(known x ratio)
above, and per cell for t(S - 1) x max(both se). The first jumps at ratio 1 (z to t(3) = 3.18
at 5 points) and, measured, covers a flat run 94.1% at 4x scatter; with the second a flat
10-seed cell of the powered preset reads converged only ~80%. The wider of the two intervals
is continuous, covers >= 95% under homoscedastic Gaussian scatter of any size (it is never
narrower than the exact t interval), lifts that cell to ~84%, and equals the design's rule
per run wherever ratio > 1.

Why cells (numbers from tests/report/test_plateau_calibration.py, which prints them; pass
rates 0.05 + 0.9 Beta(1, 0.8), mean r (1 - r) 0.18): one run cannot pass. With 1,024 dev
samples a point (128 problems x 8) and 6 window points the known se of a run's change is 1.7
points, so its CI is +-3.3 against +-2 (a flat run reads converged ~0%; 13% at 4,096 a
point); at the old 64 x 8 and 3 points it was +-7, and the Birge-inflated z interval covered
a flat truth 89% / 82% / 76% at 2x / 4x / 9x excess scatter (91 / 88 / 86% at 5 points); now
97 / 96 / 94% at 5 points. The verdict compares methods per method x prior cell, and pooling
its S seeds' window changes costs no extra dev evaluation: with 10 seeds, 6 window points and
1,024 samples a point a flat cell reads converged 83% and a 3-point rise improving 100% (64 x
8: 31%); with 5 seeds, 23% at 1,024 samples a point, 61% at 2,048, 94% at 4,096; with 2 seeds
(the default preset, whose 3 window points are too few anyway) t has 1 df and a cell passes
~0% at 1,024 (12% at 4,096), so the report says the check, not the runs, is the limit. Every
result carries its `power`: how often this same procedure reads "converged" on a flat truth
and "improving" on a RISE (3-point) rise across the window, at the observed point positions
and SEs (POWER_DRAWS Gaussian draws, fixed seed: deterministic); measured, it matches the
simulated frequency within 3.5 points.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
from scipy import stats

Z95 = 1.959964
SE_FLOOR = 1e-3  # a point whose every problem is 0% or 100% still carries some noise
MIN_POINTS = 5  # window points a fit needs: 3 df for the residual scatter
RISE = 0.03  # the rise over the window that `power` asks the check to detect
POWER_DRAWS, POWER_SEED = 2000, 0  # the power simulation: draws and numpy seed
POWER_OK = 0.80  # below this chance of reading a flat truth "converged", the check limits
NO_POWER = {"flat_converged": 0.0, "rise_improving": 0.0}  # a check that cannot read either


def dev_point(samples: pd.DataFrame) -> dict:
    """{"pass@1", "se"} of a per-sample table (problem_id, correct): the mean over problems of
    each problem's pass rate, and its sampling standard error, sqrt(sum_p r_p (1 - r_p) /
    (n - 1)) / P: r_p (1 - r_p) n / (n - 1) is the unbiased estimate of a problem's Bernoulli
    variance, divided by its n draws."""
    rates = samples.groupby("problem_id")["correct"].mean().to_numpy(dtype=float)
    n = len(samples) / len(rates)
    var = float((rates * (1 - rates)).sum() / max(n - 1, 1) / len(rates) ** 2)
    return {"pass@1": float(rates.mean()), "se": math.sqrt(var)}


@cache
def _t95(df: int) -> float:
    """The two-sided 95% Student t quantile on df degrees of freedom: t.ppf(0.975, df)."""
    return float(stats.t.ppf(0.975, df))


def _window(curve: list[dict]) -> tuple[float, float, list[dict]]:
    """(start, end, points) of the plateau window: the last third [2/3 end, end], end = the
    last point's samples, widened back to the last MIN_POINTS points when it holds fewer (a
    dev point can only fall between rollout steps: a 2,048 budget in steps of 256 has 3
    points in its last third, 5 in its last half)."""
    end = float(curve[-1]["samples"]) if curve else 0.0
    start = 2 * end / 3
    if len(curve) >= MIN_POINTS:
        start = min(start, float(curve[-MIN_POINTS]["samples"]))
    return start, end, [p for p in curve if p["samples"] >= start]


def _design(points: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(x, var), each (n,): the points' completions and sampling variances max(se, floor)^2."""
    x = np.array([p["samples"] for p in points], dtype=float)
    se = np.array([p["se"] for p in points], dtype=float)
    return x, np.maximum(se, SE_FLOOR) ** 2


def _fit(x: np.ndarray, y: np.ndarray, var: np.ndarray, width: float):
    """OLS change over the window: change = slope x width, slope = sum dx y / sum dx^2.

    x, var (n,); y (..., n). Returns change (...), its known sampling variance width^2 sum
    dx^2 var / (sum dx^2)^2 (a float), and ratio = sum resid^2 / var / (n - 2) (...).
    """
    dx = x - x.mean()
    sxx = float((dx**2).sum())
    slope = (y * dx).sum(-1) / sxx  # (...,)
    resid = y - y.mean(-1, keepdims=True) - slope[..., None] * dx  # (..., n)
    ratio = (resid**2 / var).sum(-1) / (len(x) - 2)
    known = float((dx**2 * var).sum()) / sxx**2 * width**2
    return slope * width, known, ratio


def _status(lo, hi, tol: float) -> np.ndarray:
    """converged (tol-within), improving (lo > 0), declining (hi < 0), else undetermined."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    conditions = [(-tol <= lo) & (hi <= tol), lo > 0, hi < 0]
    return np.select(conditions, ["converged", "improving", "declining"], "undetermined")


def _run_interval(change, known: float, ratio, n: int):
    """95% CI of a run's change: half = max(z sqrt(known), t(n - 2) sqrt(known ratio)).

    Equal to z x sqrt(known) for ratio <= (z / t)^2 and t x sqrt(known ratio) for ratio > 1;
    continuous in between. change, ratio (...) -> lo, hi (...).
    """
    half = np.maximum(Z95 * math.sqrt(known), _t95(n - 2) * np.sqrt(known * ratio))
    return change - half, change + half


def _noise(sd: np.ndarray) -> np.ndarray:
    """(POWER_DRAWS, n) Gaussian noise with standard deviations sd (n,), from POWER_SEED."""
    return np.random.default_rng(POWER_SEED).standard_normal((POWER_DRAWS, len(sd))) * sd


def _power(flat: np.ndarray, rise: np.ndarray) -> dict:
    """{"flat_converged", "rise_improving"}: the share of (POWER_DRAWS,) statuses simulated on
    a flat truth that read converged, and on a RISE rise that read improving."""
    return {
        "flat_converged": float((flat == "converged").mean()),
        "rise_improving": float((rise == "improving").mean()),
    }


def plateau(curve: list[dict], *, tol: float = 0.02) -> dict:
    """Convergence of one run's dev curve [{"samples", "pass@1", "se"}] over its last third.

    The window is [2/3 end, end], end = the last point's completions; >= MIN_POINTS points.
    The CI is _run_interval's (known sampling variance, or the residual scatter when wider).
    Returns {"status", "change", "ci", "tol", "window", "points", "power"} (change and ci in
    pass@1; power: see the module docstring).
    """
    start, end, points = _window(curve)
    out = {"tol": tol, "window": [start, end], "points": len(points), "change": None, "ci": None}
    if len(points) < MIN_POINTS or end <= 0:
        return {**out, "status": "too few points", "power": dict(NO_POWER)}
    x, var = _design(points)
    y = np.array([p["pass@1"] for p in points], dtype=float)
    width, n = end - start, len(points)
    change, known, ratio = _fit(x, y, var, width)
    lo, hi = (float(v) for v in _run_interval(change, known, ratio, n))

    def status_of(sim: np.ndarray) -> np.ndarray:  # (D, n) simulated points -> (D,)
        sim_change, _, sim_ratio = _fit(x, sim, var, width)
        return _status(*_run_interval(sim_change, known, sim_ratio, n), tol)

    noise = _noise(np.sqrt(var))  # (D, n)
    power = _power(status_of(noise), status_of(noise + RISE * (x - start) / width))
    status = str(_status(lo, hi, tol))
    return {**out, "status": status, "change": float(change), "ci": [lo, hi], "power": power}


def _cell_interval(changes: np.ndarray, known: np.ndarray):
    """95% CI of a cell's mean change: half = max(z sqrt(sum known) / S, t(S - 1) sd / sqrt(S)).

    changes (..., S) the runs' window changes; known (S,) their sampling variances.
    """
    s = changes.shape[-1]
    sampling = Z95 * math.sqrt(known.sum()) / s
    spread = _t95(s - 1) * changes.std(-1, ddof=1) / math.sqrt(s)
    mean, half = changes.mean(-1), np.maximum(sampling, spread)
    return mean - half, mean + half


def cell_plateau(curves: list[list[dict]], *, tol: float = 0.02) -> dict:
    """Convergence of a method x prior cell from its runs' dev curves (one per seed).

    Per run, the OLS change over its last third (>= MIN_POINTS points each); the cell's change
    is their mean, its CI _cell_interval's: t on S - 1 df over the spread of the run changes,
    or their known sampling interval when wider (S >= 2 runs). Returns {"status", "change",
    "ci", "tol", "window", "points" (fewest window points of a run), "runs", "power",
    "limited_by"}: limited_by, for a cell that neither converged nor moved, is "check" when
    power["flat_converged"] < POWER_OK (too few dev samples, points or seeds), else "runs".
    """
    windows = [_window(curve) for curve in curves]  # (start, end, points) per run
    starts, ends = [w[0] for w in windows], [w[1] for w in windows]
    out = {"tol": tol, "window": [min(starts, default=0.0), max(ends, default=0.0)],
           "points": min((len(w[2]) for w in windows), default=0), "runs": len(curves),
           "change": None, "ci": None}  # fmt: skip
    if len(curves) < 2:
        return {**out, "status": "too few runs", "power": dict(NO_POWER), "limited_by": "check"}
    if out["points"] < MIN_POINTS or min(ends) <= 0:
        return {**out, "status": "too few points", "power": dict(NO_POWER), "limited_by": "check"}
    fits = []  # (change, known sampling variance of the change) per run
    for start, end, points in windows:
        x, var = _design(points)
        y = np.array([p["pass@1"] for p in points], dtype=float)
        change, known, _ = _fit(x, y, var, end - start)
        fits.append((float(change), known))
    changes, known = (np.array(column) for column in zip(*fits))  # (S,), (S,)
    lo, hi = (float(v) for v in _cell_interval(changes, known))

    # a run's OLS change is linear in its points, so it is exactly N(true change, known)
    noise = _noise(np.sqrt(known))  # (D, S)
    flat, rise = (_status(*_cell_interval(noise + d, known), tol) for d in (0.0, RISE))
    status, power = str(_status(lo, hi, tol)), _power(flat, rise)
    limited = None
    if status == "undetermined":
        limited = "check" if power["flat_converged"] < POWER_OK else "runs"
    return {**out, "status": status, "change": float(changes.mean()), "ci": [lo, hi],
            "power": power, "limited_by": limited}  # fmt: skip


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
