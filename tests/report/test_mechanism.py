"""RCRL's condition-learnt reading (issue 24): by hand, in the check, and simulated with a
known truth (its false alarms when the condition tells nothing, its power when it does)."""

import json

import numpy as np
import pytest

from priorlab.report.load import Run
from priorlab.report.mechanism import condition, mechanism, mechanism_check, mechanism_table


def test_condition_pools_independent_runs_by_hand():
    # gaps 0.06 and 0.10, se 0.03 and 0.04: mean 0.08, se sqrt(0.0009 + 0.0016) / 2 = 0.025
    got = condition([(0.06, 0.03), (0.10, 0.04)])
    assert got["gap"] == pytest.approx(0.08) and got["runs"] == 2
    assert (got["lo"], got["hi"]) == pytest.approx((0.08 - 1.96 * 0.025, 0.08 + 1.96 * 0.025))
    assert got["learnt"] is True
    assert condition([(0.02, 0.03)])["learnt"] is False  # 0.02 - 1.96 * 0.03 < 0
    assert condition([]) is None


def _rcrl(path, gap, se, converged=1.0):
    rows = [{"step": 1, "samples": 256, "updates": 10, "ft/steps": 10, "ft/converged": converged,
             "ft/capped": 0.0, "rcrl/labelled": 256, "rcrl/condition_gap": gap,
             "rcrl/condition_se": se}]  # fmt: skip
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_the_mechanism_check_fails_where_rcrl_did_not_learn_its_condition(tmp_path):
    _rcrl(tmp_path / "a", 0.09, 0.02)
    _rcrl(tmp_path / "b", 0.01, 0.02)
    runs = [
        Run("rcrl", "weak", 0, "a", tmp_path / "a"),
        Run("rcrl", "strong", 0, "b", tmp_path / "b"),
    ]
    rows = mechanism(runs, {})
    learnt = mechanism_check(rows[1:])  # sorted: strong (b), then weak (a)
    assert learnt["ok"] is True and "condition learnt" in learnt["detail"]
    assert "rcrl on weak +9.0 [+5.1, +12.9]" in learnt["detail"]
    not_learnt = mechanism_check(rows)
    assert not_learnt["ok"] is False
    # each cell on its side: the one that missed, then the one that learnt
    assert not_learnt["detail"].startswith(
        "2 of 2 offline rounds ended by their stopping rule; RCRL's condition NOT LEARNT in 1 "
        "of 2 cells (dev accuracy under <r1> minus <r0>, points, 95% CI): rcrl on strong +1.0 "
        "[-2.9, +4.9]; there it ran"
    )
    assert not_learnt["detail"].endswith(
        "RCRL's condition learnt (dev accuracy under <r1> minus <r0>): rcrl on weak +9.0 "
        "[+5.1, +12.9]"
    )
    _rcrl(tmp_path / "c", 0.09, 0.02, converged=0.0)  # fixed epochs: judged by its condition
    fixed = mechanism(runs[:1] + [Run("rcrl", "weak", 1, "c", tmp_path / "c")], {})
    assert fixed[0]["fixed"] == 1 and mechanism_check(fixed)["ok"] is True
    assert mechanism_check(fixed)["detail"].startswith(
        "1 of 1 offline rounds ended by their stopping rule (1 more ran fixed epochs, judged "
        "by the condition they train)"
    )
    title, header, table = mechanism_table(rows)
    assert header[-1] == "condition gap" and table[1][-1] == "+9.0 [+5.1, +12.9]"


def _simulated_run(rng, delta, problems=64, samples=8):
    """One run's (gap, se) as offline.condition_gap computes it: per problem, accuracy under
    <r1> and <r0> from `samples` draws each, the condition moving it by delta."""
    base = rng.uniform(0.1, 0.7, problems)
    r1 = rng.binomial(samples, np.clip(base + delta / 2, 0, 1)) / samples
    r0 = rng.binomial(samples, np.clip(base - delta / 2, 0, 1)) / samples
    diff = r1 - r0
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(problems))


@pytest.mark.parametrize("delta, low, high", [(0.0, 0.0, 0.05), (0.07, 0.95, 1.0)])
def test_condition_learnt_false_alarms_and_power_on_simulated_cells(delta, low, high):
    """5 runs x 64 dev problems x 8 draws (the algorithm-level preset's dev set): no gap is
    read as learnt in <= 5% of 400 cells (one-sided 2.5% nominal); a 7-point gap (the size
    measured when RCRL's rounds ran 40 epochs) in >= 95%."""
    rng = np.random.default_rng(24)
    learnt = np.mean([condition([_simulated_run(rng, delta) for _ in range(5)])["learnt"]
                      for _ in range(400)])  # fmt: skip
    assert low <= learnt <= high
