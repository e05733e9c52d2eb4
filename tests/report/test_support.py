"""Support metrics (issue 26) by hand: P, E, S and SRR / NDR / NSCR on a three-problem table."""

import pandas as pd
import pytest

from priorlab.errors import DataError
from priorlab.report.load import Run
from priorlab.report.support import counts, newly_table, outcome, run_support, support


def table(right: dict[str, list[bool]], whole=None) -> pd.DataFrame:
    rows = [{"problem_id": p, "sample": i, "correct": ok, "greedy": False,
             "whole": None if whole is None else whole[p][i],
             "gold": f"{p}-gold", "completion": f"{p}-{i}-{'right' if ok else 'wrong'}"}
            for p, oks in right.items() for i, ok in enumerate(oks)]  # fmt: skip
    return pd.DataFrame(rows)


PRIOR = {"p1": [True, True], "p2": [False, False], "p3": [True, False]}  # 2, 0, 1 of 2
RUN = {"p1": [True, False], "p2": [False, True], "p3": [False, False]}  # 1, 1, 0 of 2


@pytest.fixture
def run(tmp_path):
    table(PRIOR).to_parquet(tmp_path / "samples_initial.parquet")
    table(RUN).to_parquet(tmp_path / "samples_final.parquet")
    return Run("grpo", "weak", 0, "r1", tmp_path)


def test_counts_by_hand():
    # a = [1, 0, 1], b = [1, 1, 0]: P = 1, E = 1, S = 1
    assert counts(pd.Series([1.0, 0, 1]).to_numpy(), pd.Series([1.0, 1, 0]).to_numpy()) == {
        "P": 1.0, "E": 1.0, "S": 1.0, "SRR": 0.5, "NDR": 0.5, "NSCR": 0.0,
        "new": 1 / 3}  # fmt: skip
    empty = counts(pd.Series([0.0]).to_numpy(), pd.Series([0.0]).to_numpy())
    assert empty["SRR"] is None and empty["NSCR"] is None


def test_a_run_against_its_prior_by_hand(run):
    got = run_support(run)
    assert got["by_k"][2] == {"P": 1, "E": 1, "S": 1, "SRR": 0.5, "NDR": 0.5, "NSCR": 0,
                              "new": 1 / 3}  # fmt: skip
    # k = 1: a = [1, 0, 1/2], b = [1/2, 1/2, 0]: P = 1/2, E = 1/2, S = 1
    one = got["by_k"][1]
    assert (one["P"], one["E"], one["S"]) == pytest.approx((0.5, 0.5, 1.0))
    assert (one["SRR"], one["NDR"], one["NSCR"]) == pytest.approx((1 / 3, 0.5, -0.25))
    assert got["crossover_k"] == 1  # the prior's pass@1 (1/2) already >= the run's (1/3)
    assert got["gap"] == pytest.approx(2 / 3 - 1 / 3)  # pass@2(prior) - pass@1(run)
    assert got["newly"] == [{"problem_id": "p2", "prior": 0, "run": 1, "n": 2,
                             "gold": "p2-gold", "example": "p2-1-right"}]  # fmt: skip


def test_whole_solutions_count_where_the_task_checks_steps(tmp_path):
    whole = {"p1": [True, False], "p2": [False, False], "p3": [False, False]}
    table(PRIOR, whole).to_parquet(tmp_path / "samples_initial.parquet")
    table(RUN, whole).to_parquet(tmp_path / "samples_final.parquet")
    got = run_support(Run("grpo", "weak", 0, "r1", tmp_path))
    assert got["by_k"][2] == {"P": 1, "E": 0, "S": 0, "SRR": 1.0, "NDR": 0.0, "NSCR": 0.0,
                              "new": 0.0}  # fmt: skip
    assert got["newly"] == []


def test_a_cell_averages_its_runs_with_a_bootstrap_interval(run):
    block = support([run], n_boot=200)
    (cell,) = block["cells"]
    assert cell["SRR"]["mean"] == 0.5 and cell["SRR"]["lo"] <= 0.5 <= cell["SRR"]["hi"]
    assert (cell["P"], cell["E"], cell["S"], cell["newly"]) == (1.0, 1.0, 1.0, 1)
    assert "_a" not in block["runs"][0]


def _cell(algo, prior, mean, lo, hi, new=(0.0, 0.0, 0.0), prior_solves=1.0):
    return {"algo": algo, "prior": prior, "k": 16, "P": prior_solves, "S": 0.0,
            "NDR": {"mean": mean, "lo": lo, "hi": hi},
            "new": dict(zip(("mean", "lo", "hi"), new))}  # fmt: skip


@pytest.mark.parametrize(
    "lo, hi, expected",
    [
        (0.0, 0.03, "selected"),
        (0.031, 0.2, "discovered"),
        (0.0, 0.031, "inconclusive"),
        (None, None, "inconclusive"),
    ],  # fmt: skip
)
def test_outcome_reads_the_interval_against_the_margin(lo, hi, expected):
    from priorlab.report.support import outcome

    assert outcome(_cell("grpo", "p", 0.01, lo, hi, (None, None, None))) == expected


def test_where_ndr_is_undefined_the_share_newly_solved_decides():
    from priorlab.report.support import outcome

    nothing = _cell("grpo", "0%", None, None, None, (0.0, 0.0, 0.0), prior_solves=0.0)
    learnt = _cell("sft", "0%", None, None, None, (0.2, 0.1, 0.3), prior_solves=0.0)
    assert outcome(nothing) == "selected" and outcome(learnt) == "discovered"
    one = _cell("sft", "0%", 1.0, 1.0, 1.0, (0.01, 0.0, 0.04), prior_solves=0.0)  # E = 1 of 80
    assert outcome(one) == "inconclusive"  # not NDR's degenerate 1.00


def test_one_line_per_prior_with_the_positive_control_beside_the_methods():
    from priorlab.report.support import lines

    cells = [_cell("grpo", "0%", 0.0, 0.0, 0.01), _cell("ei", "0%", 0.02, 0.0, 0.06),
             _cell("sft", "0%", 0.4, 0.3, 0.5), _cell("grpo", "10%", 0.1, 0.05, 0.15),
             _cell("sft", "10%", 0.01, 0.0, 0.02)]  # fmt: skip
    first, second = lines(cells)
    assert first == (
        "selection or discovery at prior 0% (NDR, or the share of problems newly solved where "
        "the prior solves none; k = 16, 95% CI): selected (within 0.03 of 0): grpo NDR 0.00 "
        "[0.00, 0.01], new "
        "0.00 [0.00, 0.00]; inconclusive (the interval straddles the margin): ei NDR 0.02 "
        "[0.00, 0.06], new 0.00 [0.00, 0.00]; positive control sft NDR 0.40 [0.30, 0.50], new "
        "0.00 [0.00, 0.00]: the metric sees discovery here"
    )
    assert "discovered (above 0.03): grpo NDR 0.10 [0.05, 0.15]" in second
    assert "positive control sft NDR 0.01 [0.00, 0.02], new 0.00 [0.00, 0.00]: shows no" in second


def test_lines_follow_the_priors_in_numeric_order():
    from priorlab.report.support import lines

    cells = [_cell("grpo", p, 0.0, 0.0, 0.01) for p in ("10%", "1%", "30%", "3%", "0%")]
    got = [line.split(" (")[0].rsplit(" ", 1)[1] for line in lines(cells)]
    assert got == ["0%", "1%", "3%", "10%", "30%"]


def test_the_prior_at_a_larger_k_by_hand(run):
    """samples_support.parquet: the prior at k = 4 solves p2 once (1 of 4), so the run's p2
    is preserved there, not expanded. b = [1, 1, 0] at k = 2; a_wide = pass@4 = [1, 1, 1]:
    P = 2, E = 0, S = 1; NDR 0 where the k = 2 prior gives 0.5; and the outcome reads it."""
    wide = {"p1": [True] * 4, "p2": [False, False, True, False], "p3": [True, False, False, False]}
    table(wide).to_parquet(run.path / "samples_support.parquet")
    got = run_support(run)
    assert got["by_k"][2]["NDR"] == 0.5  # against the prior at the run's own k, unchanged
    assert got["wide"] == {"k": 4, "P": 2.0, "E": 0.0, "S": 1.0, "SRR": 2 / 3, "NDR": 0.0,
                           "NSCR": -1 / 3, "new": 0.0}  # fmt: skip
    cell = support([run], n_boot=50)["cells"][0]
    assert cell["wide"]["k"] == 4 and cell["wide"]["NDR"]["mean"] == 0.0
    assert outcome(cell) == "selected"  # NDR [0, 0] against the wide prior
    assert "prior at k = 4: NDR 0.00" in support([run], n_boot=50)["lines"][0]
    assert got["newly"][0] == {"problem_id": "p2", "prior": 0, "run": 1, "n": 2,
                                    "gold": "p2-gold", "example": "p2-1-right",
                                    "prior_wide": 1, "n_wide": 4}  # fmt: skip
    other = {"p9": [True] * 4, "p2": [False] * 4, "p3": [False] * 4}
    table(other).to_parquet(run.path / "samples_support.parquet")
    with pytest.raises(DataError, match="samples_support.parquet: holds other problems"):
        run_support(run)


def test_the_support_figure_draws_each_prior_or_nothing(run):
    from priorlab.report import support_figures

    png = support_figures.curves(support([run], n_boot=20))
    assert png and len(png) > 1000  # a base64 PNG of one panel
    assert support_figures.curves({"runs": [], "cells": [], "lines": []}) is None


def test_newly_solved_problems_are_listed_rl_first_with_the_prior_and_runs_counts(tmp_path):
    """Two priors' runs: each problem a run solved where its prior's samples were all wrong
    gets a row (the prior's 0 of n, gold, which runs with how many right, a right sample);
    per prior, problems an RL run solved come before those only the control solved."""
    runs = []
    for i, (algo, prior, after) in enumerate([
        ("sft", "0%", {"p1": [True, True], "p2": [True, False], "p3": [False, False]}),
        ("grpo", "0%", {"p1": [False, False], "p2": [False, True], "p3": [False, False]}),
        ("grpo", "1%", {"p1": [False, False], "p2": [False, False], "p3": [True, True]}),
    ]):  # fmt: skip
        path = tmp_path / f"r{i}"
        path.mkdir()
        table({"p1": [False, False], "p2": [False, False], "p3": [False, True]}).to_parquet(
            path / "samples_initial.parquet")  # fmt: skip
        table(after).to_parquet(path / "samples_final.parquet")
        runs.append(Run(algo, prior, i, f"r{i}", path))
    block = support(runs, n_boot=20)
    ((title, header, rows),) = newly_table(block)
    assert header[:5] == ["prior", "problem", "prior right", "gold", "runs (right / n)"]
    assert rows == [
        ["0%", "p2", "0 of 2", "p2-gold", "sft s0 1/2, grpo s1 1/2", "p2-0-right"],
        ["0%", "p1", "0 of 2", "p1-gold", "sft s0 2/2", "p1-0-right"],
    ]  # p3: the prior solved it once; the 1% run's p3 is not new
    assert newly_table({"runs": [block["runs"][2]], "cells": []}) == []
