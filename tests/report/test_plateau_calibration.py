"""Calibration of the plateau checks (priorlab/convergence.py) on simulated dev curves.

Each simulated run has its own dev problems, pass rates 0.05 + 0.9 Beta(1, 0.8) (mean 0.55,
mean r (1 - r) 0.18), each point m samples per problem drawn binomially and its stated se
computed as dev_point does (n - 1). Designs, by preset:
- refinements-powered: dev every 128 completions over a 2,048 budget (6 window points,
  1,408 .. 2,048), 128 problems x 8 samples, 10 seeds.
- default: dev every 256 (3 window points), 64 problems x 8, 2 seeds.
A "rise" adds RISE x (x - start) / width to every problem's rate (3 points across the window).
Seeds fixed; the numbers (pytest -s prints them) are quoted in convergence.py's docstring.
"""

from functools import cache

import numpy as np
import pytest

from priorlab import convergence
from priorlab.convergence import RISE, cell_plateau, plateau

BUDGET, TOL = 2048, 0.02
START, WIDTH = 2 * BUDGET / 3, BUDGET / 3
N_SIMS = 300  # simulated cells (or runs) per design and truth


def window_x(every: int) -> np.ndarray:
    """(n,) the dev checkpoints in the last third of the budget."""
    x = np.arange(0, BUDGET + 1, every, dtype=float)
    return x[x >= START]


@cache
def simulate(seeds: int, problems: int, m: int, every: int, rise: bool) -> list:
    """N_SIMS cells of `seeds` runs: their dev curves [{samples, pass@1, se}] in the window."""
    rng = np.random.default_rng(seeds * 1000 + problems + m + every + rise)
    x = window_x(every)
    rates = 0.05 + 0.9 * rng.beta(1.0, 0.8, (N_SIMS, seeds, 1, problems))
    truth = rates + rise * RISE * (x[:, None] - START) / WIDTH  # (N, S, n, P)
    rhat = rng.binomial(m, truth) / m
    pass1 = rhat.mean(-1)  # (N, S, n)
    se = np.sqrt((rhat * (1 - rhat)).sum(-1) / (m - 1)) / problems
    return [
        [
            [{"samples": xi, "pass@1": p, "se": s} for xi, p, s in zip(x, pass1[i, j], se[i, j])]
            for j in range(seeds)
        ]
        for i in range(N_SIMS)
    ]


@cache
def cell_rates(design: tuple) -> dict:
    """Read frequencies and mean reported power of a cell design, flat and rising truth."""
    flat = [cell_plateau(cells, tol=TOL) for cells in simulate(*design, rise=False)]
    rise = [cell_plateau(cells, tol=TOL) for cells in simulate(*design, rise=True)]
    return {
        "flat_converged": np.mean([out["status"] == "converged" for out in flat]),
        "rise_improving": np.mean([out["status"] == "improving" for out in rise]),
        "power_flat": np.mean([out["power"]["flat_converged"] for out in flat]),
        "power_rise": np.mean([out["power"]["rise_improving"] for out in rise]),
        "limited_by": [out["limited_by"] for out in flat],
    }


def report(name: str, rates: dict) -> str:
    line = (
        f"plateau calibration: {name}: flat reads converged {100 * rates['flat_converged']:.1f}% "
        f"(power says {100 * rates['power_flat']:.1f}%), a 3-point rise improving "
        f"{100 * rates['rise_improving']:.1f}% (power says {100 * rates['power_rise']:.1f}%)"
    )
    print(line)
    return line


POWERED = (10, 128, 8, 128)  # seeds, dev problems, samples per problem, dev_every
MIDDLE = (5, 256, 8, 128)  # 5 seeds at 2,048 samples a point: power in between


def test_the_powered_preset_can_pass_and_can_see_a_rise():
    rates = cell_rates(POWERED)
    line = report("10 seeds, 6 points, 128 x 8", rates)
    assert rates["flat_converged"] >= 0.80, line
    assert rates["rise_improving"] >= 0.80, line


@pytest.mark.parametrize("excess", [2, 4, 9])
def test_one_run_interval_covers_a_flat_truth_under_excess_scatter(monkeypatch, excess):
    # 5 window points (the fewest allowed: t on 3 df), stated se 1.3 points (1,024 samples a
    # point), true scatter variance excess x se^2; power is not asked here, so drawn thinly
    monkeypatch.setattr(convergence, "POWER_DRAWS", 10)
    rng = np.random.default_rng(excess)
    se, n_runs = 0.0133, 1000
    x = np.linspace(START, BUDGET, 5)
    y = 0.5 + rng.normal(0, np.sqrt(excess) * se, (n_runs, 5))
    covered = []
    for values in y:
        out = plateau([{"samples": a, "pass@1": b, "se": se} for a, b in zip(x, values)])
        covered.append(out["ci"][0] <= 0 <= out["ci"][1])
    line = f"plateau calibration: one run, {excess}x scatter: covers {100 * np.mean(covered):.1f}%"
    print(line)
    assert np.mean(covered) >= 0.93, line


def test_reported_power_matches_the_simulated_frequency():
    for name, design in (("10 seeds, 128 x 8", POWERED), ("5 seeds, 256 x 8", MIDDLE)):
        rates = cell_rates(design)
        line = report(name, rates)
        assert abs(rates["power_flat"] - rates["flat_converged"]) <= 0.05, line
        assert abs(rates["power_rise"] - rates["rise_improving"]) <= 0.05, line
    # one run, 6 points of 512 x 8: the check passes a flat run now and then (600 runs)
    flat = [plateau(run, tol=TOL) for cell in simulate(2, 512, 8, 128, False) for run in cell]
    rise = [plateau(run, tol=TOL) for cell in simulate(2, 512, 8, 128, True) for run in cell]
    rates = {
        "flat_converged": np.mean([out["status"] == "converged" for out in flat]),
        "rise_improving": np.mean([out["status"] == "improving" for out in rise]),
        "power_flat": np.mean([out["power"]["flat_converged"] for out in flat]),
        "power_rise": np.mean([out["power"]["rise_improving"] for out in rise]),
    }
    line = report("one run, 512 x 8", rates)
    assert abs(rates["power_flat"] - rates["flat_converged"]) <= 0.05, line
    assert abs(rates["power_rise"] - rates["rise_improving"]) <= 0.05, line


def test_two_seeds_leave_the_check_as_the_limit():
    # the powered design with 2 seeds: t on 1 df; a flat cell never reads converged
    two = [cell_plateau(cells[:2], tol=TOL) for cells in simulate(*POWERED, rise=False)[:50]]
    assert all(out["power"]["flat_converged"] < 0.80 for out in two)
    undetermined = [out for out in two if out["status"] == "undetermined"]
    assert undetermined and all(out["limited_by"] == "check" for out in undetermined)
    # the default preset: 3 window points a run, too few to fit
    default = simulate(2, 64, 8, 256, rise=False)[0]
    out = cell_plateau(default, tol=TOL)
    assert out["status"] == "too few points" and out["points"] == 3
    assert out["limited_by"] == "check"
