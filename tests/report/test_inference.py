"""Inference on the gain (report/inference.py, report/crossed.py) and the per-run entropy law,
on hand-computed values, then end to end through build_report on the synthetic sweep of
conftest.py."""

import html
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as st

from priorlab.errors import DataError
from priorlab.report import build_report
from priorlab.report import stats as report_stats
from priorlab.report.collapse import collapses
from priorlab.report.crossed import (
    cells_to_settle,
    crossed,
    equivalence_power,
    heterogeneity,
    satterthwaite,
)
from priorlab.report.entropy_law import fit_run
from priorlab.report.inference import assess, family, holm_levels, tost_p
from priorlab.report.load import Run
from priorlab.report.stats import anova_ss, holm, partial_omega2
from priorlab.report.sweep_spec import read_margin

from .conftest import ENTROPY_A, ENTROPY_B, FINAL, INITIAL, N, write_sweep


def t2_lower_tail(t: float) -> float:
    """P(T < t) for Student's t with 2 df, in closed form: 1/2 + t / (2 sqrt(2 + t^2))."""
    return 0.5 + t / (2 * math.sqrt(2 + t * t))


# --- The crossed standard error ---

# D in points: 2 cells x 3 problems, additive (no residual), problems differ a lot
ADDITIVE = np.array([[0.0, 2.0, 7.0], [2.0, 4.0, 9.0]])


def test_crossed_se_holds_the_problem_component_by_hand():
    est = crossed([ADDITIVE])
    # rows 3, 5: s^2 = 2, V_cells = 2 / 2 = 1 (df 1); columns 1, 3, 8: s^2 = 13, V_probs = 13 / 3
    # (df 2); residual 0. Var = 1 + 13/3 = 16/3, df = (16/3)^2 / (1/1 + (13/3)^2 / 2) = 512/187
    assert est["diff"] == pytest.approx(4.0) and est["n_cells"] == 2
    assert est["se"] ** 2 == pytest.approx(16 / 3)
    assert est["df"] == pytest.approx(512 / 187)
    assert est["se_fixed"] == pytest.approx(1.0) and est["df_fixed"] == pytest.approx(1.0)
    assert est["var_problems"] == pytest.approx(13 / 3) and est["var_seeds"] == pytest.approx(1)


def test_crossed_without_a_problem_component_is_the_paired_t_test():
    d = np.array([[1.0, 3.0], [2.0, 4.0], [6.0, 2.0]])
    # rows 2, 3, 4: V_cells = 1 / 3; columns 3, 3: V_probs = 0; residuals -1, 1, -1, 1, 2, -2:
    # MS_e = 12 / 2 = 6, V_e = 6 / 6 = 1 > both: the components are nil, Var = V_cells
    est = crossed([d])
    assert est["se"] ** 2 == pytest.approx(1 / 3) and est["df"] == pytest.approx(2)
    assert est["var_problems"] == 0.0
    # the same as the paired t-test on the cell means
    means = d.mean(axis=1)
    assert est["se"] == pytest.approx(means.std(ddof=1) / math.sqrt(3))


def test_crossed_stratified_by_prior_by_hand():
    flat = np.array([[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]])
    est = crossed([ADDITIVE, flat])
    # diff = (4 + 2) / 2; V_cells = 2 / (2 * 4) x 2 strata = 0.5 (df: 0.25^2 / (2 x 0.0625^2
    # ...) = 2); y = (1.5, 2.5, 5): s^2 = 3.25, V_probs = 3.25 / 3; residual 0
    v_probs = 3.25 / 3
    assert est["diff"] == pytest.approx(3.0)
    assert est["se"] ** 2 == pytest.approx(0.5 + v_probs)
    assert est["df"] == pytest.approx((0.5 + v_probs) ** 2 / (0.5**2 / 2 + v_probs**2 / 2))
    assert satterthwaite([(0.25, 1), (0.25, 1)]) == pytest.approx(2.0)
    # the cell means differ between the strata (3, 5 vs 1, 3): F = 4 / 2 on (1, 2) df,
    # p = P(|t_2| > sqrt 2) = 1 - 1/sqrt 2
    test = heterogeneity([ADDITIVE, flat])
    assert (test["F"], test["df1"], test["df2"]) == (pytest.approx(2.0), 1, 2)
    assert test["p"] == pytest.approx(1 - 1 / math.sqrt(2))
    assert heterogeneity([ADDITIVE]) is None
    # a one-cell stratum borrows the others' cell variance
    one = crossed([ADDITIVE, flat[:1]])
    assert one["se"] is not None and one["n_cells"] == 3
    assert crossed([flat[:1]])["se"] is None


# --- Tests, Holm, what is shown ---


def test_tost_on_three_cells():
    # d = 1, 2, 3 points: mean 2, sd 1, se 1/sqrt(3), df 2; margin 5 points
    se = 0.01 / math.sqrt(3)
    # TOST: t_low = 7 sqrt 3 (upper tail), t_high = -3 sqrt 3 (lower tail): the larger p
    assert tost_p(0.02, se, 2, margin=0.05) == pytest.approx(t2_lower_tail(-3 * math.sqrt(3)))
    assert tost_p(0.0, 0.0, 5, margin=0.02) == 0.0 and tost_p(0.03, 0.0, 5, margin=0.02) == 1.0
    est = crossed([np.array([[0.01], [0.02], [0.03]])])
    out = assess(est, margin=0.05)
    assert out["p_diff"] == pytest.approx(2 * t2_lower_tail(-2 * math.sqrt(3)))
    half = 4.302653 * se  # t_{0.975, 2} se
    assert (out["lo"], out["hi"]) == pytest.approx((0.02 - half, 0.02 + half), abs=1e-7)


def test_holm_step_down_and_the_level_of_each_test():
    # sorted 0.005 x4, 0.01 x3, 0.03 x2, 0.04 x1 -> 0.02, 0.03, 0.06, max(0.04, 0.06)
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.6, 0.5]) == pytest.approx([1.0, 1.0]) and holm([]) == []
    # rank 1 at 0.05/4 (rejected), rank 2 at 0.05/3 (rejected), rank 3 at 0.05/2: 0.03 is not
    # rejected, so Holm stops; rank 4 keeps that level
    assert holm_levels(p) == pytest.approx([0.05 / 3, 0.025, 0.025, 0.0125])
    assert holm_levels([0.001, 0.002]) == pytest.approx([0.025, 0.05])


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(1)
    for _ in range(20):
        p = rng.uniform(0, 0.2, size=7)
        assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def test_partial_omega2_on_a_hand_made_anova_table():
    table = {
        "terms": ["algo", "prior", "interaction"],
        "ss": {"algo": 30.0, "prior": 50.0, "interaction": 3.0, "seed": 20.0, "total": 103.0},
        "df": {"algo": 2, "prior": 1, "interaction": 2, "seed": 10},
    }
    # MS_res = 2, N = 10 + 2 + 1 + 2 + 1 = 16: (SS - df MS) / (SS + (N - df) MS)
    w = partial_omega2(table)
    assert w["algo"] == pytest.approx(26 / 58) and w["prior"] == pytest.approx(48 / 80)
    assert w["interaction"] == 0.0  # (3 - 4) / 31 clipped
    assert partial_omega2(table, clip=False)["interaction"] == pytest.approx(-1 / 31)
    table["df"]["seed"] = 0
    assert partial_omega2(table) == {"algo": None, "prior": None, "interaction": None}


def test_anova_ss_matches_statsmodels_type2_on_an_unbalanced_design():
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    rng = np.random.default_rng(3)
    algo = ["a"] * 5 + ["b"] * 4 + ["c"] * 5
    prior = ["A", "A", "B", "B", "B", "A", "B", "B", "A", "A", "A", "B", "B", "A"]
    y = rng.normal(size=14) + np.array([0.5 * (p == "B") for p in prior])
    ours = anova_ss(y, algo, prior)
    fit = ols("y ~ C(algo) * C(prior)", data=pd.DataFrame({"y": y, "algo": algo, "prior": prior}))
    theirs = anova_lm(fit.fit(), typ=2)
    names = {"algo": "C(algo)", "prior": "C(prior)", "interaction": "C(algo):C(prior)"}
    for term, name in {**names, "seed": "Residual"}.items():
        assert float(ours["ss"][term][0]) == pytest.approx(theirs.loc[name, "sum_sq"])
        assert ours["df"][term] == theirs.loc[name, "df"]
    point = report_stats.anova_point(y, algo, prior)
    assert point["sum_sq"]["algo"] == pytest.approx(float(ours["ss"]["algo"][0]))


# --- Power and what settles a pair ---


def test_equivalence_power_by_hand_in_the_large_df_limit():
    # known se: P(|d| < m - z se) = 2 Phi(m / se - z_{1 - alpha}) - 1
    expected = 2 * st.norm.cdf(0.02 / 0.005 - st.norm.ppf(1 - 0.005)) - 1  # 0.8456
    power = equivalence_power(0.005, 1e6, margin=0.02, alpha=0.005)
    assert power == pytest.approx(expected, abs=1e-4)
    # an estimated se lowers it, and a tiny se gives certainty
    assert equivalence_power(0.005, 9, margin=0.02, alpha=0.005) < expected
    assert equivalence_power(1e-5, 9, margin=0.02, alpha=0.005) == pytest.approx(1.0)


def difference_power(cells: int, diff=0.012, var_seeds_x_n=1e-3, step=0.005) -> float:
    """Two-sided power at `cells` (one stratum): se^2 = var_seeds n / cells, t on cells - 1."""
    se = math.sqrt(var_seeds_x_n / cells)
    t = st.t.ppf(1 - step / 2, cells - 1)
    return st.norm.cdf(diff / se - t) + st.norm.cdf(-diff / se - t)


def test_cells_to_settle_takes_the_cheaper_route_at_holms_first_step():
    # 10 cells now, var_seeds = 0.01^2 (se 1 point), no problem component; 10 pairs: Holm's
    # strictest step 0.005
    est = {"diff": 0.012, "se": 0.01, "n_cells": 10, "var_seeds": 1e-4, "var_problems": 0.0}
    found = cells_to_settle(est, margin=0.02, alpha=0.05, n_tests=10)
    cells = found["by"]["difference"]
    # the smallest number of cells at which the difference test has 80% power (t on C - 1)
    assert difference_power(cells) >= 0.8 > difference_power(cells - 1)
    assert found["by"]["equivalence"] > cells  # 0.8 points of room only
    assert found["route"] == "difference" and found["cells"] == cells
    # a pair the plug-in calls settled already still needs one more cell per stratum
    big = est | {"diff": 0.10}
    assert cells_to_settle(big, margin=0.02, alpha=0.05, n_tests=10, n_strata=3)["cells"] == 13
    # a problem component larger than the target se: no number of seeds settles it
    stuck = est | {"var_problems": 0.012**2}
    assert cells_to_settle(stuck, margin=0.02, alpha=0.05, n_tests=10)["cells"] is None
    # at d = 0 only equivalence can settle it
    zero = cells_to_settle(est | {"diff": 0.0}, margin=0.02, alpha=0.05, n_tests=10)
    assert zero["route"] == "equivalence" and zero["by"]["difference"] is None


# --- One family ---


def sweep_arrays(gains: dict, jitter: float = 0.0, problems: int = 4):
    """Per-run arrays of a family: gains {(method, prior): gain}, 4 seeds, `problems`
    problems; run (m, p, s) gains gain + jitter x a fixed pattern."""
    pattern = [0.1, -0.2, 0.0, 0.2, -0.1, 0.1, 0.0, -0.1]
    method, prior, seed, gain, level = [], [], [], [], []
    for k, ((m, p), g) in enumerate(sorted(gains.items())):
        for s in range(4):
            shift = jitter * pattern[(s + 3 * k) % len(pattern)]
            method.append(m)
            prior.append(p)
            seed.append(s)
            gain.append(np.full(problems, g + shift))
            level.append((0.3 if p == "A" else 0.6) + g + shift)
    return method, prior, seed, np.array(gain), np.array(level)


def test_family_outcomes_tested_intervals_and_power():
    gains = {(m, p): g for p in "AB" for m, g in (("x", 0.10), ("y", 0.10), ("z", 0.30))}
    fam = family("fam", *sweep_arrays(gains, jitter=0.01), margin=0.02)
    pairs = {(p["a"], p["b"]): p for p in fam["pairs"]}
    xy, xz = pairs[("x", "y")], pairs[("x", "z")]
    assert xy["outcome"] == "equivalent" and xz["outcome"] == "different"
    assert xz["sign"] == "x < z" and pairs[("y", "z")]["sign"] == "y < z"
    for pair in fam["pairs"]:  # what is shown is what was tested
        inside = -0.02 < pair["tested_lo"] and pair["tested_hi"] < 0.02
        assert inside == (pair["outcome"] == "equivalent")
        assert pair["tested_level"] >= 0.9 and pair["settle"] is None
    assert fam["n_cells"] == 8 and fam["holm"]["tests"] == 3
    assert fam["power"]["alpha"] == pytest.approx(0.05 / 3)
    assert 0 <= fam["power"]["equivalence"] <= 1
    assert fam["gain"]["x"]["mean"] == pytest.approx(0.10, abs=0.003)
    assert fam["gain_by_prior"]["z"]["A"]["mean"] == pytest.approx(0.30, abs=0.003)
    assert fam["prior_level"] == {"A": pytest.approx(0.3), "B": pytest.approx(0.6)}
    assert fam["omega2_gain"]["method"] > 0.99 and fam["omega2_gain"]["prior"] == 0.0
    assert set(xy["by_prior"]) == {"A", "B"} and xy["heterogeneity"]["df1"] == 1


def test_a_pair_different_by_less_than_the_margin_is_equivalent_and_keeps_its_sign():
    gains = {(m, p): g for p in "AB" for m, g in (("x", 0.10), ("y", 0.11))}
    fam = family("small", *sweep_arrays(gains, jitter=0.001), margin=0.02)
    (pair,) = fam["pairs"]
    assert pair["outcome"] == "equivalent" and pair["different"]
    assert pair["sign"] == "x < y"


def test_no_difference_without_evidence_is_inconclusive_not_equivalent():
    method = ["a", "b"] * 3
    prior, seed = ["A"] * 6, [0, 0, 1, 1, 2, 2]
    gain = np.array([[0.05], [0.01], [0.02], [0.06], [0.04], [0.04]])  # d = +4, -4, 0 points
    fam = family("noisy", method, prior, seed, gain, gain[:, 0], margin=0.02)
    (pair,) = fam["pairs"]
    assert pair["diff"] == pytest.approx(0.0) and pair["outcome"] == "inconclusive"
    # d = 0: only equivalence can settle it; one prior, so seeds per prior = cells
    assert pair["settle"]["route"] == "equivalence"
    assert pair["settle"]["seeds_per_prior"] == pair["settle"]["cells"] > 3
    alone = family(
        "solo", ["a"] * 2, ["A", "B"], [0, 0], np.array([[0.1], [0.2]]), [0.4, 0.7], margin=0.02
    )
    assert alone["pairs"] == [] and alone["power"] is None


def test_collapse_needs_the_margin_and_survives_holm():
    # run r0 lost 10 points on every problem (a collapse), r1 1 point (less than the margin),
    # r2 gained 5 points with some spread
    initial = np.full((3, 4), 0.5)
    final = initial + np.array([[-0.1, -0.11, -0.09, -0.1], [-0.01] * 4, [0.04, 0.06, 0.05, 0.05]])
    runs = [Run("g", "A", s, f"r{s}", None) for s in range(3)]
    tables = SimpleNamespace(runs=runs, final={"pass@1": final}, initial={"pass@1": initial})
    rows = {row["run_id"]: row for row in collapses(tables, margin=0.02)}
    assert rows["r0"]["collapsed"] and rows["r0"]["status"] == "collapsed"
    assert not rows["r1"]["collapsed"] and rows["r1"]["status"] == "unchanged"
    assert rows["r1"]["p"] == 1.0  # 1 point below on every problem: never beyond -2
    assert rows["r2"]["status"] == "gained"
    # r0: t = (-0.1 + 0.02) / (sd / 2), one-sided, then x3 (Holm, smallest p)
    d = final[0] - initial[0]
    t = (d.mean() + 0.02) / (d.std(ddof=1) / 2)
    assert rows["r0"]["p"] == pytest.approx(st.t.cdf(t, 3))
    assert rows["r0"]["p_holm"] == pytest.approx(min(1.0, 3 * st.t.cdf(t, 3)))


def test_margin_from_the_sweep_spec(tmp_path):
    assert read_margin(tmp_path) == 0.02
    (tmp_path / "sweep.yaml").write_text("name: x\nseeds: [0]\n")
    assert read_margin(tmp_path) == 0.02
    (tmp_path / "sweep.yaml").write_text("name: x\nmargin: 0.05\n")
    assert read_margin(tmp_path) == 0.05
    (tmp_path / "sweep.yaml").write_text("margin: two points\n")
    with pytest.raises(DataError, match=r"sweep.yaml: `margin` must be a fraction"):
        read_margin(tmp_path)


def test_entropy_law_fit_per_run():
    h = [0.2, 0.4, 0.6, 0.8]
    fit = fit_run(h, [-0.5 * math.exp(x) + 1.2 for x in h])
    assert fit == {"a": pytest.approx(0.5), "b": pytest.approx(1.2), "ceiling": pytest.approx(0.7)}
    assert fit_run(h[:2], [0.1, 0.2]) is None and fit_run([0.3] * 4, [0.1] * 4) is None


def test_report_carries_inference_and_entropy_law(tmp_path):
    write_sweep(tmp_path)
    (tmp_path / "sweep.yaml").write_text("name: tiny\nmargin: 0.05\n")
    report = build_report(tmp_path, n_boot=50, seed=0)
    assert report["margin"] == 0.05
    (fam,) = report["inference"]
    assert fam["family"] == "all" and fam["methods"] == ["ei", "grpo"]  # sft left out
    (pair,) = fam["pairs"]
    # d per (prior, seed) cell: ei - grpo in correct samples over 6 problems x N; priors
    # weighted equally (2 seeds each)
    d = {
        (p, s): (sum(FINAL[("ei", p, s)]) - sum(FINAL[("grpo", p, s)])) / (6 * N)
        for p, s in INITIAL
    }
    by_prior = [np.mean([d[(p, s)] for s in (0, 1)]) for p in "AB"]
    assert pair["diff"] == pytest.approx(np.mean(by_prior), abs=1e-6) and pair["n_cells"] == 4
    assert pair["by_prior"]["A"]["diff"] == pytest.approx(by_prior[0], abs=1e-6)
    gain_ei = [
        (sum(FINAL[("ei", p, s)]) - sum(INITIAL[(p, s)])) / (6 * N) for p, s in sorted(INITIAL)
    ]
    assert fam["gain"]["ei"]["mean"] == pytest.approx(np.mean(gain_ei), abs=1e-6)
    assert report["verdict_lines"] == [fam["verdict"]]
    assert fam["verdict"].startswith("all: ")
    assert "partial omega² of the gain: method " in fam["verdict"]
    assert report["verdict"].endswith("(80% needed)")
    assert report["legacy"]["sections"] == [
        "variance", "variance_rl", "levels", "verdict_vs_budget", "pairwise"
    ]  # fmt: skip
    law = {row["algo"]: row for row in report["entropy_law"]}
    assert law["grpo"]["n_runs"] == 4 and law["grpo"]["unfitted"] == 0
    assert law["grpo"]["a"]["median"] == pytest.approx(ENTROPY_A, abs=1e-6)
    assert law["grpo"]["ceiling"]["max"] == pytest.approx(ENTROPY_B - ENTROPY_A, abs=1e-6)
    assert law["ei"]["n_runs"] == 0 and law["ei"]["unfitted"] == 4
    assert json.loads((tmp_path / "report.json").read_text())["verdict_lines"] == [fam["verdict"]]
    md = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    assert f"- {fam['verdict']}." in md and f"<li>{html.escape(fam['verdict'])}.</li>" in page
    assert md.index(fam["verdict"]) < md.index("## Headline")
    assert "## Pairs in all: difference a - b in gain" in md and "| ei | grpo | 4 |" in md
    assert "tested interval" in md and "family-wise error <= 0.05" in md
    assert "## Entropy law per run" in md and 'id="inference-verdicts"' in page
