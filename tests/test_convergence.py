import math

import pandas as pd
import pytest

from priorlab.convergence import Z95, cell_plateau, dev_point, plateau, vs_prior


def curve(values, se=0.01, every=100):
    return [{"samples": i * every, "pass@1": v, "se": se} for i, v in enumerate(values)]


def test_dev_point_is_the_mean_pass_rate_with_its_sampling_error():
    # two problems, 4 samples each: rates 0.5 and 1.0
    table = pd.DataFrame({"problem_id": ["a"] * 4 + ["b"] * 4, "correct": [1, 0, 1, 0, 1, 1, 1, 1]})
    point = dev_point(table)
    assert point["pass@1"] == pytest.approx(0.75)
    # var = (0.5 * 0.5 + 1.0 * 0) / (4 - 1) samples / 2^2 problems = 1 / 48
    assert point["se"] == pytest.approx(1 / math.sqrt(48))


def window_curve(window, se=0.01, before=8):
    """`before` points at 0.3, then the window's values: every 100 completions, so 13 points
    put 5 in the last third [800, 1200] (dx = -200 .. 200, sum dx^2 = 100,000, width 400)."""
    return curve([0.3] * before + list(window), se=se)


# the 5-point window's known variance of the change: width^2 var / sum dx^2 = 1.6 var
KNOWN = 400**2 / 100_000
T3 = 3.182446  # stats.t.ppf(0.975, 3): 5 points, 2 fitted


def test_a_flat_curve_converges():
    out = plateau(window_curve([0.6] * 5, se=0.005), tol=0.02)
    assert out["points"] == 5 and out["window"] == [800, 1200]
    assert out["change"] == pytest.approx(0.0, abs=1e-12)
    # no scatter (ratio 0): known variance, z quantile; half = 1.96 x sqrt(1.6) x 0.005 = 0.0124
    half = Z95 * math.sqrt(KNOWN) * 0.005
    assert out["ci"] == [pytest.approx(-half), pytest.approx(half)]
    assert out["status"] == "converged"
    assert set(out["power"]) == {"flat_converged", "rise_improving"}
    # the same curve measured with 1-point errors cannot tell: +-0.0248 exceeds the tolerance
    noisy = plateau(window_curve([0.6] * 5, se=0.01), tol=0.02)
    assert noisy["status"] == "undetermined"
    assert noisy["power"]["flat_converged"] < out["power"]["flat_converged"]


def test_a_short_last_third_widens_to_five_points_and_four_points_are_too_few():
    # 10 points: end 900, the last third [600, 900] holds 4: widened to the last 5, [500, 900]
    out = plateau(curve([0.6] * 10, se=0.001), tol=0.02)
    assert out["points"] == 5 and out["window"] == [500, 900]
    assert out["status"] == "converged"
    # a whole curve of 4 points cannot reach 5
    out = plateau(curve([0.6] * 4, se=0.001), tol=0.02)
    assert out["points"] == 2 and out["status"] == "too few points" and out["ci"] is None
    assert out["power"] == {"flat_converged": 0.0, "rise_improving": 0.0}


def test_scatter_beyond_sampling_takes_the_t_quantile():
    # residuals +1, -1, 0, -1, +1 points around a flat line: sum r^2 = 4e-4, slope 0
    window = [0.51, 0.49, 0.50, 0.49, 0.51]
    out = plateau(window_curve(window, se=0.001), tol=0.02)
    # ratio = 4e-4 / 1e-6 / 3 = 133 > 1: variance x ratio, t(3):
    # half = 3.182 x sqrt(1.6 x 1e-6 x 133.3) = 3.182 x 0.014606 = 0.0465
    half = T3 * math.sqrt(KNOWN * 4e-4 / 3)
    assert out["change"] == pytest.approx(0.0, abs=1e-12)
    assert out["ci"] == [pytest.approx(-half), pytest.approx(half)]
    assert half == pytest.approx(0.04648, abs=1e-5) and out["status"] == "undetermined"
    # se 0.015: ratio 4e-4 / 2.25e-4 / 3 = 0.59 <= 1, yet t x sqrt(known ratio) = 0.0465 is
    # wider than z x sqrt(known) = 1.96 x sqrt(1.6 x 2.25e-4) = 0.0372: the wider is kept
    assert plateau(window_curve(window, se=0.015))["ci"][1] == pytest.approx(half)
    # se 0.02: ratio 1/3 < (z / t)^2 = 0.38: the known-variance z interval is the wider
    z_half = Z95 * math.sqrt(KNOWN * 0.02**2)
    assert plateau(window_curve(window, se=0.02))["ci"][1] == pytest.approx(z_half)


def test_a_rising_curve_is_improving_by_hand():
    # the window's points rise 1 point per 100 completions: slope 1e-4, change 0.04 over 400
    out = plateau(window_curve([0.50, 0.51, 0.52, 0.53, 0.54], se=0.001), tol=0.02)
    assert out["change"] == pytest.approx(0.04)
    assert out["ci"][0] == pytest.approx(0.04 - Z95 * math.sqrt(KNOWN) * 0.001)
    assert out["status"] == "improving"


def test_a_falling_curve_is_declining():
    out = plateau(window_curve([0.50, 0.45, 0.40, 0.35, 0.30], se=0.001), tol=0.02)
    assert out["status"] == "declining" and out["change"] == pytest.approx(-0.2)


def rising(change, se=0.001):
    """A 5-point window rising `change` across its width (400 completions)."""
    return window_curve([0.5 + change * i / 4 for i in range(5)], se=se)


def test_a_cell_pools_its_runs_window_changes_by_hand():
    # run changes +0.002, 0, -0.002: mean 0, sd 0.002; t(2) = 4.302653
    out = cell_plateau([rising(0.002), rising(0.0), rising(-0.002)], tol=0.02)
    assert out["runs"] == 3 and out["points"] == 5 and out["window"] == [800, 1200]
    spread = 4.302653 * 0.002 / math.sqrt(3)  # 0.0050
    sampling = Z95 * math.sqrt(3 * KNOWN * 0.001**2) / 3  # 0.0014: the smaller
    assert spread > sampling
    assert out["change"] == pytest.approx(0.0, abs=1e-12)
    assert out["ci"] == [pytest.approx(-spread, rel=1e-6), pytest.approx(spread, rel=1e-6)]
    assert out["status"] == "converged" and out["limited_by"] is None
    # runs that each moved +-1 point: sd 0.01, half 0.0248: undetermined, yet sampling noise
    # this small would have let a flat cell converge: the runs, not the check, are the limit
    out = cell_plateau([rising(0.01), rising(0.0), rising(-0.01)], tol=0.02)
    assert out["ci"][1] == pytest.approx(5 * spread, rel=1e-6)
    assert out["status"] == "undetermined" and out["power"]["flat_converged"] > 0.99
    assert out["limited_by"] == "runs"


def test_a_cell_with_sampling_noise_alone_uses_the_known_variance():
    # three identical flat runs: sd 0, the known sampling se keeps the interval open
    out = cell_plateau([rising(0.0, se=0.01)] * 3, tol=0.02)
    half = Z95 * math.sqrt(3 * KNOWN * 0.01**2) / 3  # 1.96 x 0.0126 / sqrt(3) = 0.0143
    assert out["ci"] == [pytest.approx(-half), pytest.approx(half)]
    assert out["status"] == "converged"


def test_a_cell_needs_two_runs_and_five_window_points_each():
    one = cell_plateau([rising(0.0)])
    assert one["status"] == "too few runs" and one["limited_by"] == "check"
    short = curve([0.6] * 4, se=0.001)  # 4 points in all: the window holds 2
    out = cell_plateau([rising(0.0), short])
    assert out["status"] == "too few points" and out["points"] == 2
    assert out["power"] == {"flat_converged": 0.0, "rise_improving": 0.0}


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
