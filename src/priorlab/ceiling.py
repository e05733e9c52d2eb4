"""Where a run ends and how fast it gets there: the ScaleRL curve fitted to its dev curve.

    R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)

(Khatri et al. 2025, "The Art of Scaling Reinforcement Learning Compute for LLMs", arXiv
2510.13786): C the completions consumed, R0 the prior's dev pass@1, A the asymptote (the
ceiling), B the efficiency exponent, C_mid the completions at half the gain. C_q = C_mid
(q / (1 - q))^(1 / B) reaches the share q of it (C_90 = C_mid 9^(1 / B)).

The fit. Weighted least squares, weights 1 / se^2 from each point's sampling SE (chi^2 is
the Gaussian log-likelihood), on the prior's point (C = 0) and the dev points after the
early regime: points before EARLY of the run's completions are left out (ScaleRL fits after
its warm-up; a point one rollout step in says more about that step than about the curve).
R0 is anchored at the prior's point as a measurement with its SE, not held at its value:
held fixed, its noise went unaccounted and C_mid's interval covered the truth 86-90% of the
time in simulation (95% anchored). For fixed (B, C_mid) the curve is linear in (R0, A), so
chi^2 is a quadratic form solved in closed form per cell; the fit scans a grid of (B,
C_mid) cells (B in [0.25, 8], C_mid from the first point / C_SPAN to the last x C_SPAN)
and polishes the best cell with least squares.

The intervals: profile likelihood, because A and C_mid trade off along a curved ridge (a run
short of its midpoint fits a higher A reached later about as well) and a symmetric Wald
interval would hide that. The profile 95% interval of any quantity h(A, B, C_mid) is the
range of h over {chi^2 <= chi^2_min + thr}, thr = max(3.84, F(0.95; 1, n - 4) x ratio),
ratio = chi^2_min / (n - 4) on n points, the prior's included (when the points scatter more
than sampling explains, the variance is estimated, hence F; the wider of the two, as in
convergence.plateau). Each grid cell contributes the range of a linear function of (R0, A)
over its ellipse; the interval of A, the gain A - R0, B, C_mid, C_90 or of a prediction R(C)
is the hull over cells (A clipped to [0, 1]). A bootstrap over dev problems would need each
point's per-problem results, which a run's summary does not keep; the profile needs only (C,
pass@1, se). An interval touching the grid's edge is open (None): the data cannot bound it
within C_SPAN x the run. Measured on 200 simulated runs (tests/test_ceiling.py: R0 0.3, A
0.6, B 1.5, C_mid 2,000, 24 points to 12,288 of 1,024 binomial draws each): coverage A 96%,
B 95%, C_mid 95%, C_90 95%; bias of A +0.002; stopped at half C_mid, A's median interval is
0.65 wide or A is refused.

A curve is never forced into an A. `status`:
- "fit": A, B, C_mid, C_90 with intervals;
- "flat": the gain's interval holds 0 (no gain the points can see): a flat curve fits a
  rise that starts after its last point as well as no rise, so A is not placed (measured:
  its interval is about [0, 1]); the plateau check (convergence.py) speaks for such a run;
- "falls from its peak": the mean of the last 3 points lies more than PEAK_SES combined
  SEs below the best mean of 3 points in a row (a collapse, not a ceiling);
- "not sigmoid-like": the residuals scatter > MAX_RATIO x the sampling variance and chi^2
  rejects the curve at p < 0.001 (oscillation, or a shape this form does not have);
- "declines": the gain's whole interval lies below 0;
- "before its midpoint": the fitted C_mid lies beyond the last point: half the gain is not
  yet seen (still accelerating), so A would be extrapolation. A run past C_mid whose
  C_mid interval is still open gets its A with the wide interval that goes with it;
- "too few points": fewer than MIN_POINTS points (the prior's among them), or no prior point.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

EARLY = 0.05  # points before this share of the run's last point's completions are left out
MIN_POINTS = 6  # the prior's and 5 after the early regime: 4 parameters, 2 df to spare
SE_FLOOR = 1e-3  # a point whose every problem is 0% or 100% still carries some noise
B_GRID = np.geomspace(0.25, 8.0, 96)  # (NB,) efficiency exponents scanned
N_C, C_SPAN = 400, 10.0  # C_mid cells, log-spaced over [first / C_SPAN, last x C_SPAN]
Z95, CHI2_95 = 1.959964, 3.841459
MAX_RATIO, MISFIT_P = 4.0, 1e-3  # "not sigmoid-like": ratio above this and chi^2 p below
PEAK_SES = 3.0  # "falls from its peak": the last 3-point mean this many SEs below the best


def share(x: np.ndarray, b, c_mid) -> np.ndarray:
    """1 / (1 + (c_mid / x)^b): the share of the gain reached at completions x (broadcast)."""
    return 1.0 / (1.0 + np.exp(b * (np.log(c_mid) - np.log(x))))


def curve(x, *, r0: float, a: float, b: float, c_mid: float) -> np.ndarray:
    """R(x) = r0 + (a - r0) share(x): the ScaleRL curve at completions x."""
    return r0 + (a - r0) * share(np.asarray(x, dtype=float), b, c_mid)


def c_at(q: float, *, b: float, c_mid: float) -> float:
    """Completions at which the curve reaches the share q of its gain: c_mid (q/(1-q))^(1/b)."""
    return c_mid * (q / (1 - q)) ** (1 / b)


def _points(points: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, w) of the prior's point (samples 0, first) and the dev points after the early
    regime: completions, pass@1, 1 / se^2. Raises ValueError without a prior point."""
    prior = [p for p in points if p["samples"] == 0]
    if not prior:
        raise ValueError("the curve has no prior point (samples 0)")
    last = max(p["samples"] for p in points)
    kept = prior[:1] + [p for p in points if p["samples"] > 0 and p["samples"] >= EARLY * last]
    x = np.array([p["samples"] for p in kept], dtype=float)
    y = np.array([p["pass@1"] for p in kept], dtype=float)
    se = np.array([p["se"] for p in kept], dtype=float)
    return x, y, 1.0 / np.maximum(se, SE_FLOOR) ** 2


class _Grid:
    """chi^2 over (B, C_mid) cells; per cell the curve is linear in theta = (R0, A):
    R(C) = R0 (1 - s) + A s, s = share(C), and s = 0 at the prior's point. Shapes (NB, NC)."""

    def __init__(self, x, y, w):
        self.b = B_GRID[:, None]  # (NB, 1)
        self.c = np.geomspace(x[1] / C_SPAN, x[-1] * C_SPAN, N_C)[None, :]  # (1, NC)
        s = np.zeros((*np.broadcast_shapes(self.b.shape, self.c.shape), len(x)))
        s[..., 1:] = share(x[1:], self.b[..., None], self.c[..., None])  # (NB, NC, n)
        u = 1 - s
        m = np.stack([(w * u * u).sum(-1), (w * u * s).sum(-1), (w * s * s).sum(-1)])
        det = m[0] * m[2] - m[1] ** 2
        self.inv = np.stack([m[2], -m[1], m[0]]) / det  # (3, NB, NC): M^-1 as (00, 01, 11)
        rhs = np.stack([(w * u * y).sum(-1), (w * s * y).sum(-1)])  # (2, NB, NC)
        self.theta = np.stack([self.inv[0] * rhs[0] + self.inv[1] * rhs[1],
                               self.inv[1] * rhs[0] + self.inv[2] * rhs[1]])  # fmt: skip
        self.chi2 = float((w * y * y).sum()) - (rhs * self.theta).sum(0)  # (NB, NC)

    def band(self, v0, v1, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ok, lo, hi), each (NB, NC): the cells with chi^2 <= level somewhere, and the
        range of v0 R0 + v1 A over that cell's ellipse {chi^2 <= level}."""
        room = level - self.chi2
        var = v0 * v0 * self.inv[0] + 2 * v0 * v1 * self.inv[1] + v1 * v1 * self.inv[2]
        centre = v0 * self.theta[0] + v1 * self.theta[1]
        half = np.sqrt(np.maximum(room, 0.0) * var)
        return room >= 0, centre - half, centre + half


def _polish(x, y, w, grid: _Grid) -> tuple[np.ndarray, float]:
    """(R0, A, B, C_mid) and chi^2 at the least-squares optimum started from the grid's best
    cell (R0 and A within [0, 1])."""
    i, j = np.unravel_index(np.argmin(grid.chi2), grid.chi2.shape)
    r0, a = grid.theta[:, i, j]
    lower = [0.0, 0.0, math.log(B_GRID[0]), math.log(grid.c[0, 0])]
    upper = [1.0, 1.0, math.log(B_GRID[-1]), math.log(grid.c[0, -1])]
    start = np.clip([r0, a, math.log(B_GRID[i]), math.log(grid.c[0, j])], lower, upper)

    def resid(theta):
        r0, a, log_b, log_c = theta
        fit = curve(np.maximum(x, 1e-9), r0=r0, a=a, b=math.exp(log_b), c_mid=math.exp(log_c))
        return (y - np.where(x > 0, fit, r0)) * np.sqrt(w)

    found = optimize.least_squares(resid, start, bounds=(lower, upper), method="trf")
    r0, a, log_b, log_c = found.x
    return np.array([r0, a, math.exp(log_b), math.exp(log_c)]), float((found.fun**2).sum())


def _hull(values: np.ndarray, ok: np.ndarray, low_open, high_open) -> list | None:
    """[lo, hi] of values over the ok cells, None if none; an end is None (open) when an ok
    cell lies where the grid cuts that side off (low_open / high_open: (NB, NC) masks)."""
    if not ok.any():
        return None
    lo = None if (ok & low_open).any() else float(values[ok].min())
    hi = None if (ok & high_open).any() else float(values[ok].max())
    return [lo, hi]


def _rolling(values: np.ndarray, k: int = 3) -> np.ndarray:
    """Means of k consecutive values ((n - k + 1,))."""
    return np.convolve(values, np.ones(k) / k, mode="valid")


def _status(y, w, best, chi2: float, gain_ci, c_ci, last: float) -> tuple[str, str]:
    """(status, reason) of a fitted curve, in the order of the module docstring. The peak
    test compares 3-point means (the last three against the best three in a row)."""
    means, var = _rolling(y), _rolling(1 / w) / 3
    peak = int(np.argmax(means))
    drop = means[peak] - means[-1]
    if drop > PEAK_SES * math.sqrt(var[peak] + var[-1]):
        return "falls from its peak", f"its last points lie {drop:.3f} below its best"
    df = len(y) - 4
    if chi2 / df > MAX_RATIO and stats.chi2.sf(chi2, df) < MISFIT_P:
        return "not sigmoid-like", f"residuals scatter {chi2 / df:.1f}x the sampling variance"
    if gain_ci[0] <= 0 <= gain_ci[1]:
        return "flat", "the gain's interval holds 0: no rise seen, no ceiling to place"
    if gain_ci[1] < 0:
        return "declines", "the gain's whole interval lies below 0"
    if best[3] > last:
        return "before its midpoint", "half its fitted gain lies beyond its last point"
    return "fit", ""


class _Fit:
    """The grid, the polished optimum and the 95% profile region of one curve."""

    def __init__(self, points: list[dict]):
        self.x, self.y, self.w = _points(points)
        self.grid = _Grid(self.x, self.y, self.w)
        self.best, self.chi2 = _polish(self.x, self.y, self.w, self.grid)
        df = len(self.x) - 4
        self.ratio = self.chi2 / df
        self.level = self.chi2 + max(CHI2_95, float(stats.f.ppf(0.95, 1, df)) * self.ratio)

    def interval(self, v0: float, v1: float) -> list[float] | None:
        """Profile 95% interval of v0 R0 + v1 A: its range over the region."""
        ok, lo, hi = self.grid.band(v0, v1, self.level)
        return [float(lo[ok].min()), float(hi[ok].max())] if ok.any() else None

    def predict(self, samples: float) -> tuple[float, list[float] | None]:
        """The fitted curve at completions `samples`, and its profile 95% interval."""
        r0, a, b, c_mid = self.best
        s = share(np.array(samples, dtype=float), self.grid.b, self.grid.c)  # (NB, NC)
        ok = self.grid.chi2 <= self.level
        room = np.maximum(self.level - self.grid.chi2, 0.0)
        inv = self.grid.inv
        var = (1 - s) ** 2 * inv[0] + 2 * (1 - s) * s * inv[1] + s * s * inv[2]
        centre = (1 - s) * self.grid.theta[0] + s * self.grid.theta[1]
        half = np.sqrt(room * var)
        best = float(curve(samples, r0=r0, a=a, b=b, c_mid=c_mid))
        if not ok.any():
            return best, None
        return best, [float((centre - half)[ok].min()), float((centre + half)[ok].max())]


def fit_curve(points: list[dict]) -> dict:
    """The ScaleRL fit of one dev curve [{"samples", "pass@1", "se"}] (see the module).

    Returns {"status", "reason", "n_points", "r0", "r0_ci", "a", "a_ci", "b", "b_ci",
    "c_mid", "c_mid_ci", "c90", "c90_ci", "chi2", "ratio"}: A, B, C_mid, C_90 and their
    intervals are None unless status is "fit"; an open interval end is None; n_points
    counts the prior's point.
    """
    out = dict.fromkeys(("r0", "r0_ci", "a", "a_ci", "b", "b_ci", "c_mid", "c_mid_ci"))
    out |= dict.fromkeys(("c90", "c90_ci", "chi2", "ratio"))
    if not any(p["samples"] == 0 for p in points):
        return out | {"status": "too few points", "reason": "no prior point (samples 0)",
                      "n_points": len(points)}  # fmt: skip
    x, _, _ = _points(points)
    if len(x) < MIN_POINTS:
        return out | {"status": "too few points", "reason": f"{len(x)} < {MIN_POINTS}",
                      "n_points": len(x)}  # fmt: skip
    fit = _Fit(points)
    grid, ok = fit.grid, fit.grid.chi2 <= fit.level
    b_cells = np.broadcast_to(grid.b, ok.shape)
    c_cells = np.broadcast_to(grid.c, ok.shape)
    b_low, b_high = b_cells == B_GRID[0], b_cells == B_GRID[-1]
    c_low, c_high = c_cells == grid.c[0, 0], c_cells == grid.c[0, -1]
    c_ci = _hull(c_cells, ok, c_low, c_high)
    r0, a, b, c_mid = (float(v) for v in fit.best)
    status, reason = _status(fit.y, fit.w, fit.best, fit.chi2, fit.interval(-1, 1), c_ci, x[-1])
    out |= {"status": status, "reason": reason, "n_points": len(x), "r0": r0}
    out |= {"r0_ci": fit.interval(1, 0), "chi2": fit.chi2, "ratio": fit.ratio}
    if status == "fit":
        out |= {"a": a, "a_ci": _clip(fit.interval(0, 1))}
        out |= {"b": b, "b_ci": _hull(b_cells, ok, b_low, b_high), "c_mid": c_mid}
        c90 = c_at(0.9, b=b_cells, c_mid=c_cells)
        out |= {"c_mid_ci": c_ci, "c90": c_at(0.9, b=b, c_mid=c_mid)}
        out["c90_ci"] = _hull(c90, ok, c_low, c_high | b_low)
    return out


def _clip(interval: list[float] | None) -> list[float] | None:
    """An interval of a pass rate, clipped to [0, 1]."""
    return None if interval is None else [max(interval[0], 0.0), min(interval[1], 1.0)]


def extrapolation(points: list[dict], *, split: float = 0.5) -> dict:
    """Fit the points up to split x the last point's completions; predict the rest.

    Returns {"status" (the part fit's), "split", "points": [{"samples", "measured",
    "predicted", "lo", "hi", "inside"}], "mean_abs_error", "coverage"}: lo/hi is the profile
    95% interval of the curve at that C widened in quadrature by the point's own z x se, and
    coverage the share of held-out points inside it. Predictions need a "fit" of the first
    part; otherwise points is [] and the errors None.
    """
    last = max((p["samples"] for p in points), default=0.0)
    part = [p for p in points if p["samples"] <= split * last]
    rest = [p for p in points if p["samples"] > split * last]
    status = fit_curve(part)["status"]
    out = {"status": status, "split": split, "points": []}
    out |= {"mean_abs_error": None, "coverage": None}
    if status != "fit" or not rest:
        return out
    fit = _Fit(part)
    for point in rest:
        best, (lo, hi) = fit.predict(point["samples"])
        z_se = Z95 * max(point["se"], SE_FLOOR)
        lo, hi = best - math.hypot(best - lo, z_se), best + math.hypot(hi - best, z_se)
        row = {"samples": point["samples"], "measured": point["pass@1"], "predicted": best}
        out["points"].append(row | {"lo": lo, "hi": hi, "inside": lo <= row["measured"] <= hi})
    errors = [abs(p["measured"] - p["predicted"]) for p in out["points"]]
    out["mean_abs_error"] = float(np.mean(errors))
    out["coverage"] = float(np.mean([p["inside"] for p in out["points"]]))
    return out
