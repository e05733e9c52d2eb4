"""The ScaleRL curve fit: hand-computed values, recovery, and its intervals on simulated runs
with a known truth (binomial noise at a dev size of 1,024 samples a point, fixed seeds)."""

import math

import numpy as np
import pytest

from priorlab.ceiling import c_at, curve, extrapolation, fit_curve

TRUTH = {"r0": 0.3, "a": 0.6, "b": 1.5, "c_mid": 2000.0}
LONG = np.arange(512, 12288 + 1, 512)  # 24 points, the last at 6 x C_mid
DEV = 1024  # samples a dev point: 128 problems x 8


def point(samples: float, value: float, se: float) -> dict:
    return {"samples": float(samples), "pass@1": float(value), "se": float(se)}


def simulate(rng, xs, truth=TRUTH, n=DEV) -> list[dict]:
    """A dev curve: the prior's point and one per x, each a binomial mean of n draws."""
    out = []
    for x in [0.0, *xs]:
        p = truth["r0"] if x == 0 else float(curve(x, **truth))
        value = rng.binomial(n, p) / n
        out.append(point(x, value, math.sqrt(value * (1 - value) / (n - 1))))
    return out


def covers(interval, truth) -> bool:
    return None not in interval and interval[0] <= truth <= interval[1]


def test_the_curve_and_its_completions_by_hand():
    # share at C = C_mid is 1/2; at 2 C_mid with B = 2 it is 1 / (1 + 1/4) = 0.8
    assert curve(1000, r0=0.2, a=0.7, b=2, c_mid=1000) == pytest.approx(0.45)
    assert curve(2000, r0=0.2, a=0.7, b=2, c_mid=1000) == pytest.approx(0.2 + 0.5 * 0.8)
    assert c_at(0.9, b=2, c_mid=1000) == pytest.approx(3000)  # 1000 x 9^(1/2)
    assert c_at(0.5, b=0.7, c_mid=1234) == pytest.approx(1234)


def test_a_noiseless_curve_gives_back_its_parameters():
    points = [point(x, TRUTH["r0"] if x == 0 else curve(x, **TRUTH), 0.01) for x in [0, *LONG]]
    fit = fit_curve(points)
    assert fit["status"] == "fit" and fit["n_points"] == 24  # 512 < EARLY x 12,288: left out
    for key in ("r0", "a", "b", "c_mid"):
        assert fit[key] == pytest.approx(TRUTH[key], rel=1e-4)
        assert covers(fit[f"{key}_ci"], TRUTH[key])
    assert fit["c90"] == pytest.approx(c_at(0.9, b=1.5, c_mid=2000), rel=1e-4)
    assert fit["chi2"] == pytest.approx(0, abs=1e-8)


def test_intervals_cover_the_truth_about_95_percent_with_little_bias():
    rng = np.random.default_rng(0)
    fits = [fit_curve(simulate(rng, LONG)) for _ in range(200)]
    assert sum(f["status"] == "fit" for f in fits) >= 194  # the flags rarely fire on a sigmoid
    fits = [f for f in fits if f["status"] == "fit"]
    c90 = c_at(0.9, b=TRUTH["b"], c_mid=TRUTH["c_mid"])
    for key, truth in [("a", 0.6), ("b", 1.5), ("c_mid", 2000.0), ("c90", c90)]:
        coverage = np.mean([covers(f[f"{key}_ci"], truth) for f in fits])
        assert 0.90 <= coverage <= 0.99, (key, coverage)
    assert abs(np.mean([f["a"] for f in fits]) - 0.6) < 0.005  # measured: +0.002


def test_a_run_stopped_before_its_midpoint_gets_no_confident_wrong_ceiling():
    rng = np.random.default_rng(1)
    fits = [fit_curve(simulate(rng, np.arange(128, 1024 + 1, 128))) for _ in range(200)]
    refused = [f for f in fits if f["a_ci"] is None]
    wrong = [f for f in fits if f["a_ci"] is not None and not covers(f["a_ci"], 0.6)]
    assert len(refused) >= 60 and len(wrong) <= 10
    widths = [f["a_ci"][1] - f["a_ci"][0] for f in fits if f["a_ci"] is not None]
    assert np.median(widths) > 0.3  # measured 0.65, against 0.09 for the full run


def test_the_first_half_predicts_the_second():
    rng = np.random.default_rng(2)
    checks = [extrapolation(simulate(rng, LONG)) for _ in range(50)]
    checks = [c for c in checks if c["points"]]
    assert len(checks) >= 45 and all(len(c["points"]) == 12 for c in checks)
    assert np.mean([c["coverage"] for c in checks]) >= 0.9
    assert np.mean([c["mean_abs_error"] for c in checks]) < 0.03
    row = checks[0]["points"][0]
    assert row["samples"] == 6656 and row["lo"] < row["predicted"] < row["hi"]


def test_a_collapse_an_oscillation_and_a_flat_run_are_named_not_fitted():
    xs = [0, *LONG]
    rise = [curve(x, **TRUTH) if x else 0.3 for x in xs]
    collapse = [v - (0.25 if x > 8000 else 0) for x, v in zip(xs, rise)]
    fit = fit_curve([point(x, v, 0.01) for x, v in zip(xs, collapse)])
    assert fit["status"] == "falls from its peak" and fit["a"] is None
    # +-6 points around the curve, ending high (ending low also reads "falls from its peak")
    wobble = [v + (-0.06 if i % 2 else 0.06) * (x > 0) for i, (x, v) in enumerate(zip(xs, rise))]
    fit = fit_curve([point(x, v, 0.01) for x, v in zip(xs, wobble)])
    assert fit["status"] == "not sigmoid-like" and fit["a"] is None and fit["ratio"] > 4
    flat = fit_curve([point(x, 0.3 + (0.005 if i % 2 else -0.005), 0.01) for i, x in enumerate(xs)])
    assert flat["status"] == "flat" and flat["a"] is None and flat["c_mid"] is None


def test_too_few_points_or_no_prior_point():
    assert fit_curve([point(x, 0.3, 0.01) for x in (0, 256, 512)])["status"] == "too few points"
    fit = fit_curve([point(x, 0.3, 0.01) for x in LONG])
    assert fit["status"] == "too few points" and "prior point" in fit["reason"]
