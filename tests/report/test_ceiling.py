"""The ceiling and efficiency verdicts on hand-made per-run fits (report/ceiling.py)."""

import math

import pytest

from priorlab.report.ceiling import family


def fit(method: str, prior: str, a: float, c90: float = 4000.0, *, half: float = 0.0) -> dict:
    """A run_fits row with status fit: A (its interval +-half) and C_90 (+-10%)."""
    return {"methods": {"all": method}, "prior": prior, "status": "fit", "a": a,
            "a_ci": [a - half, a + half], "c90": c90, "c90_ci": [0.9 * c90, 1.1 * c90]}  # fmt: skip


def refused(method: str, prior: str) -> dict:
    return {"methods": {"all": method}, "prior": prior, "status": "before its midpoint",
            "a": None, "a_ci": None, "c90": None, "c90_ci": None}  # fmt: skip


def test_a_pair_by_hand():
    # prior p: a [0.60, 0.62] (mean 0.61, var of mean 0.0002 / 2), b [0.50, 0.54] (0.52, 0.0008 / 2)
    rows = [fit("a", "p", 0.60), fit("a", "p", 0.62), fit("b", "p", 0.50), fit("b", "p", 0.54)]
    (pair,) = family("all", rows, "ceiling")["pairs"]
    assert pair["diff"] == pytest.approx(0.09)
    assert pair["se"] == pytest.approx(math.sqrt(0.0001 + 0.0004))
    assert pair["df"] == pytest.approx(0.0005**2 / (0.0001**2 + 0.0004**2))  # Welch: 1.47


def test_the_fit_variance_floors_a_lucky_small_spread():
    # both seeds identical: the seeds' variance is 0, the runs' own intervals (+-0.0196) are not:
    # fit variance (0.0392 / 3.92)^2 = 1e-4 per run, 1e-4 / 2 per method's mean
    rows = [fit(m, "p", 0.6, half=0.0196) for m in ("a", "a", "b", "b")]
    (pair,) = family("all", rows, "ceiling")["pairs"]
    assert pair["se"] == pytest.approx(math.sqrt(2 * 0.0001 / 2), rel=1e-4)  # z = 1.959964


def test_equal_ceilings_read_equivalent_and_a_gap_reads_different():
    same, apart = [], []
    for prior in ("p", "q"):
        for noise in (-0.004, 0.0, 0.004, 0.002):
            same += [fit("grpo", prior, 0.6 + noise), fit("ppo", prior, 0.6 - noise)]
            apart += [fit("grpo", prior, 0.7 + noise, c90=2000.0), fit("ppo", prior, 0.6 - noise)]
    fam = family("all", same, "ceiling")
    assert fam["pairs"][0]["outcome"] == "equivalent"
    assert fam["verdict"].startswith("ceiling: 1 of 1 pairs equivalent within ±3.0 points of A")
    fam = family("all", apart, "ceiling")
    assert fam["pairs"][0]["outcome"] == "different"
    assert fam["verdict"].startswith("ceiling: grpo > ppo by 10.1 points of A [")
    fam = family("all", apart, "efficiency")
    assert fam["pairs"][0]["diff"] == pytest.approx(math.log(0.5))
    assert "grpo reaches 90% of its gain in 2.0x fewer completions than ppo [" in fam["verdict"]


def test_refused_runs_are_counted_and_left_out():
    rows = [fit("a", "p", 0.6), refused("a", "p"), refused("b", "p"), fit("b", "p", 0.6)]
    fam = family("all", rows, "ceiling")
    assert fam["refused"] == {"a": 1, "b": 1} and fam["pairs"] == []
    assert fam["verdict"] == (
        "ceiling: not testable (2 of 4 runs have one, and no pair has 2 per prior)"
    )


def test_coverage_on_answers_and_on_whole_solutions_by_hand():
    import pandas as pd

    from priorlab.report.ceiling import _covered

    table = pd.DataFrame({"problem_id": ["p1", "p1", "p2", "p2", "p3", "p3"],
                          "correct": [False, True, True, True, False, False],
                          "whole": [False, False, True, None, False, False]})  # fmt: skip
    assert _covered(table, "correct") == pytest.approx(2 / 3)  # p1 (a guess), p2
    assert _covered(table, "whole") == pytest.approx(1 / 3)  # p2 only
    assert _covered(table.assign(whole=None), "whole") is None  # the task cannot tell
    assert _covered(table.drop(columns="whole"), "whole") is None  # tables from before


def test_the_guessing_baseline_by_hand():
    import pandas as pd

    from priorlab.report.ceiling import guessed

    # p1 (gold 7): answers 7, 3; p2 (gold 3): 3, 3; p3 (gold 9): 7, 7
    table = pd.DataFrame({"problem_id": ["p1", "p1", "p2", "p2", "p3", "p3"],
                          "gold": ["7", "7", "3", "3", "9", "9"],
                          "answer": ["7", "3", "3", "3", "7", None]})  # fmt: skip
    # other problems' answers: p1 sees 3, 3, 7, "" -> q = 1/4; p2 sees 7, 3, 7, "" -> 1/4;
    # p3 sees 7, 3, 3, 3 -> 0; at k = 2: 1 - (3/4)^2 = 7/16 twice, 0 once
    assert guessed(table, 2) == pytest.approx((7 / 16 + 7 / 16 + 0) / 3)
    assert guessed(table, 1) == pytest.approx((1 / 4 + 1 / 4) / 3)
    assert guessed(table.drop(columns="gold"), 2) is None  # tables from before the column
