import math

import pandas as pd
import pytest

from priorlab.convergence import Z95, dev_point, plateau, vs_prior


def curve(values, se=0.01, every=100):
    return [{"samples": i * every, "pass@1": v, "se": se} for i, v in enumerate(values)]


def test_dev_point_is_the_mean_pass_rate_with_its_sampling_error():
    # two problems, 4 samples each: rates 0.5 and 1.0
    table = pd.DataFrame({"problem_id": ["a"] * 4 + ["b"] * 4, "correct": [1, 0, 1, 0, 1, 1, 1, 1]})
    point = dev_point(table)
    assert point["pass@1"] == pytest.approx(0.75)
    # var = (0.5 * 0.5 + 1.0 * 0) / (4 - 1) samples / 2^2 problems = 1 / 48
    assert point["se"] == pytest.approx(1 / math.sqrt(48))


def test_a_flat_curve_converges():
    # window: the last third of 900 completions = [600, 900]: points 600, 700, 800, 900
    values = [0.1, 0.3, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    out = plateau(curve(values, se=0.005), tol=0.02)
    assert out["points"] == 4 and out["window"] == [600, 900]
    assert out["change"] == pytest.approx(0.0, abs=1e-12)
    # slope 0, no scatter: se = sqrt(sum dx^2 var / sxx^2) = sqrt(var / sxx), sxx = 50,000
    half = Z95 * math.sqrt(0.005**2 / 50_000) * 300  # 0.013: within +-0.02
    assert out["ci"] == [pytest.approx(-half), pytest.approx(half)]
    assert out["status"] == "converged"
    # the same curve measured with 1-point errors cannot tell: +-0.026 exceeds the tolerance
    assert plateau(curve(values, se=0.01), tol=0.02)["status"] == "undetermined"


def test_a_rising_curve_is_improving_by_hand():
    # the window's points rise 1 point per 100 completions: slope 1e-4, change 0.03 over 300
    out = plateau(curve([0.50, 0.51, 0.52, 0.53], se=0.001), tol=0.02)
    assert out["window"] == [200, 300] and out["points"] == 2
    assert out["status"] == "too few points"
    out = plateau(curve([0.4] * 6 + [0.50, 0.51, 0.52, 0.53], se=0.001), tol=0.02)
    assert out["points"] == 4 and out["change"] == pytest.approx(0.03)
    assert out["status"] == "improving" and out["ci"][0] > 0


def test_noisy_points_widen_the_interval_and_leave_it_undetermined():
    # residuals far beyond the stated sampling error: the Birge ratio inflates the CI
    out = plateau(curve([0.5] * 6 + [0.40, 0.60, 0.40, 0.60], se=0.001), tol=0.02)
    assert out["status"] == "undetermined"
    assert out["ci"][0] < 0 < out["ci"][1]


def test_a_falling_curve_is_declining():
    out = plateau(curve([0.5] * 6 + [0.50, 0.45, 0.40, 0.35], se=0.001), tol=0.02)
    assert out["status"] == "declining" and out["change"] == pytest.approx(-0.15)


def _table(rates, n=4):
    rows = []
    for i, r in enumerate(rates):
        c = round(r * n)
        rows += [{"problem_id": f"p{i}", "correct": j < c, "greedy": False} for j in range(n)]
    rows.append({"problem_id": "p0", "correct": True, "greedy": True})  # greedy rows ignored
    return pd.DataFrame(rows)


def test_vs_prior_pairs_problems_and_flags_a_collapse():
    initial = _table([1.0, 1.0, 0.75, 0.75])
    final = _table([0.25, 0.5, 0.25, 0.0])
    out = vs_prior(initial, final)
    # differences -0.75, -0.5, -0.5, -0.75: mean -0.625, sd 0.1443, t(3) 3.182
    assert out["gain"] == pytest.approx(-0.625)
    half = 3.182446 * 0.1443376 / 2
    assert out["ci"] == [
        pytest.approx(-0.625 - half, abs=1e-5),
        pytest.approx(-0.625 + half, abs=1e-5),
    ]
    assert out["status"] == "collapsed" and out["problems"] == 4
    assert vs_prior(final, initial)["status"] == "gained"
    assert vs_prior(initial, initial)["status"] == "unchanged"
