"""Inference on the gain (report/inference.py) and the per-run entropy law, on hand-computed
values, then end to end through build_report on the synthetic sweep of conftest.py."""

import html
import json
import math

import numpy as np
import pytest

from priorlab.errors import DataError
from priorlab.report import build_report
from priorlab.report import stats as report_stats
from priorlab.report.entropy_law import fit_run
from priorlab.report.inference import (
    anova_ss,
    cells_to_settle,
    family,
    holm,
    mdd,
    omega2,
    paired_t,
    read_margin,
    tost_p,
)

from .conftest import ENTROPY_A, ENTROPY_B, FINAL, INITIAL, N, write_sweep


def t2_lower_tail(t: float) -> float:
    """P(T < t) for Student's t with 2 df, in closed form: 1/2 + t / (2 sqrt(2 + t^2))."""
    return 0.5 + t / (2 * math.sqrt(2 + t * t))


def test_paired_t_and_tost_on_three_cells():
    # d = 1, 2, 3 points: mean 2, sd 1, se 1/sqrt(3), df 2; margin 5 points
    test = paired_t([0.01, 0.02, 0.03], margin=0.05)
    assert test["n_cells"] == 3 and test["diff"] == pytest.approx(0.02)
    assert test["sd"] == pytest.approx(0.01)
    # difference: t = 0.02 / (0.01 / sqrt 3) = 2 sqrt 3
    assert test["p_diff"] == pytest.approx(2 * t2_lower_tail(-2 * math.sqrt(3)))
    # TOST: t_low = 7 sqrt 3 (upper tail), t_high = -3 sqrt 3 (lower tail): the larger p
    assert test["p_tost"] == pytest.approx(t2_lower_tail(-3 * math.sqrt(3)))
    assert test["p_tost"] == pytest.approx(0.5 - 3 * math.sqrt(3) / (2 * math.sqrt(29)))
    half = 4.302653 * 0.01 / math.sqrt(3)  # t_{0.975, 2} se
    assert (test["lo"], test["hi"]) == pytest.approx((0.02 - half, 0.02 + half), abs=1e-7)
    assert tost_p(0.0, 0.0, 5, margin=0.02) == 0.0 and tost_p(0.03, 0.0, 5, margin=0.02) == 1.0
    one = paired_t([0.01], margin=0.05)
    assert one["diff"] == 0.01 and one["p_diff"] is None and one["p_tost"] is None


def test_holm_step_down_matches_statsmodels():
    # sorted 0.005 x4, 0.01 x3, 0.03 x2, 0.04 x1 -> 0.02, 0.03, 0.06, max(0.04, 0.06)
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm(p) == pytest.approx(report_stats.holm(p))
    assert holm([0.6, 0.5]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_omega2_on_a_hand_made_anova_table():
    table = {
        "terms": ["algo", "prior", "interaction"],
        "ss": {"algo": 30.0, "prior": 50.0, "interaction": 3.0, "seed": 20.0, "total": 103.0},
        "df": {"algo": 2, "prior": 1, "interaction": 2, "seed": 10},
    }
    # MS_res = 2; denominator SS_total + MS_res = 105
    w = omega2(table)
    assert w["algo"] == pytest.approx(26 / 105) and w["prior"] == pytest.approx(48 / 105)
    assert w["interaction"] == 0.0  # (3 - 4) / 105 clipped
    assert omega2(table, clip=False)["interaction"] == pytest.approx(-1 / 105)
    table["df"]["seed"] = 0
    assert omega2(table) == {"algo": None, "prior": None, "interaction": None}


def test_anova_ss_matches_statsmodels_type2_on_an_unbalanced_design():
    rng = np.random.default_rng(3)
    algo = ["a"] * 5 + ["b"] * 4 + ["c"] * 5
    prior = ["A", "A", "B", "B", "B", "A", "B", "B", "A", "A", "A", "B", "B", "A"]
    y = rng.normal(size=14) + np.array([0.5 * (p == "B") for p in prior])
    ours = anova_ss(y, algo, prior)
    theirs = report_stats.anova_point(y, algo, prior)
    for term in ("algo", "prior", "interaction", "seed"):
        assert float(ours["ss"][term][0]) == pytest.approx(theirs["sum_sq"][term])
        assert ours["df"][term] == theirs["df"][term]
    assert float(ours["ss"]["total"][0]) == pytest.approx(theirs["sum_sq"]["total"])


def test_minimum_detectable_difference_and_cells_to_settle():
    # (t_{0.975,9} + t_{0.80,9}) sd / sqrt(n) = (2.262157 + 0.883404) 0.04 / sqrt(10)
    assert mdd(0.04, 10) == pytest.approx(3.145561 * 0.04 / math.sqrt(10), rel=1e-6)
    assert mdd(None, 10) is None and mdd(0.04, 1) is None
    # equivalence: ((z_0.95 + z_0.90) 0.03 / (0.02 - 0.01))^2 = (2.926405 * 3)^2
    assert cells_to_settle(0.01, 0.03, margin=0.02) == pytest.approx((2.926405 * 3) ** 2)
    # difference: ((z_0.975 + z_0.80) 0.06 / 0.03)^2 = (2.801585 * 2)^2
    assert cells_to_settle(-0.03, 0.06, margin=0.02) == pytest.approx((2.801585 * 2) ** 2)
    assert cells_to_settle(0.02, 0.06, margin=0.02) is None


def three_methods():
    """x and y equal within 0.2 points, z 20 points above; priors A, B x seeds 0-3."""
    rows = []
    jitter = [0.001, -0.002, 0.0, 0.002, -0.001, 0.001, 0.0, -0.001]
    for cell, (prior, seed) in enumerate((p, s) for p in "AB" for s in range(4)):
        start = 0.3 if prior == "A" else 0.6
        for method, gain in (("x", 0.10), ("y", 0.10 + jitter[cell]), ("z", 0.30 + jitter[-cell])):
            rows.append((method, prior, seed, gain, start + gain))
    return [list(col) for col in zip(*rows)]


def test_family_outcomes_power_and_verdict():
    fam = family("fam", *three_methods(), margin=0.02)
    pairs = {(p["a"], p["b"]): p for p in fam["pairs"]}
    assert pairs[("x", "y")]["outcome"] == "equivalent" and pairs[("x", "y")]["sign"] is None
    assert pairs[("x", "z")]["outcome"] == "different" and pairs[("x", "z")]["sign"] == "x < z"
    assert pairs[("y", "z")]["sign"] == "y < z"
    assert all(p["seeds_per_prior_to_settle"] is None for p in fam["pairs"])
    assert fam["n_cells"] == 8 and fam["mdd"] == pytest.approx(mdd(fam["sd_cells"], 8))
    assert fam["gain"]["x"] == {"mean": pytest.approx(0.10), "lo": pytest.approx(0.10),
                                "hi": pytest.approx(0.10)}  # fmt: skip
    assert fam["gain_by_prior"]["z"]["A"] == pytest.approx(0.30, abs=0.002)
    assert fam["prior_level"] == {"A": pytest.approx(0.3), "B": pytest.approx(0.6)}
    assert fam["omega2_gain"]["method"] > 0.99 and fam["omega2_gain"]["prior"] == 0.0
    assert fam["omega2_level"]["prior"] > 0.5
    assert fam["verdict"].startswith(
        "fam: 2 pairs different (x < z, y < z), 1 equivalent within ±2 points, 0 inconclusive "
        "(smallest detectable difference "
    )
    assert "; gain 10.0–30.0 points; the prior's level explains " in fam["verdict"]
    assert fam["verdict"].endswith("% of final pass@1 (omega²)")


def test_no_difference_without_evidence_is_inconclusive_not_equivalent():
    method = ["a", "b"] * 3
    prior, seed = ["A"] * 6, [0, 0, 1, 1, 2, 2]
    gain = [0.05, 0.01, 0.02, 0.06, 0.04, 0.04]  # d = +4, -4, 0 points: mean 0, sd 4
    fam = family("noisy", method, prior, seed, gain, gain, margin=0.02)
    (pair,) = fam["pairs"]
    assert pair["diff"] == pytest.approx(0.0) and pair["outcome"] == "inconclusive"
    # equivalence needs ((z_0.95 + z_0.90) 0.04 / 0.02)^2 = 34.3 -> 35 cells, one prior
    assert pair["cells_to_settle"] == 35 and pair["seeds_per_prior_to_settle"] == 35
    assert fam["verdict"].startswith(
        "noisy: 0 pairs different, 0 equivalent within ±2 points, 1 inconclusive"
    )
    assert "the prior's share of final pass@1 is not estimable" in fam["verdict"]
    alone = family("solo", ["a"] * 2, ["A", "B"], [0, 0], [0.1, 0.2], [0.4, 0.7], margin=0.02)
    assert alone["pairs"] == [] and alone["mdd"] is None
    assert alone["verdict"].startswith("solo: one method (a), no pair to compare; gain 15.0 points")


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
    # d per (prior, seed) cell: grpo - ei in correct samples over 6 problems x N
    d = [
        (sum(FINAL[("grpo", p, s)]) - sum(FINAL[("ei", p, s)])) / (6 * N)
        for p, s in sorted(INITIAL)
    ]
    assert pair["diff"] == pytest.approx(-np.mean(d), abs=1e-6) and pair["n_cells"] == 4
    assert pair["outcome"] == "different" and pair["sign"] == "ei < grpo"
    gain_ei = [
        (sum(FINAL[("ei", p, s)]) - sum(INITIAL[(p, s)])) / (6 * N) for p, s in sorted(INITIAL)
    ]
    assert fam["gain"]["ei"]["mean"] == pytest.approx(np.mean(gain_ei), abs=1e-6)
    assert report["verdict_lines"] == [fam["verdict"]]
    assert fam["verdict"].startswith("all: 1 pair different (ei < grpo), 0 equivalent within ±5")
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
    assert "eta² of final pass@1 (biased upward for many-level factors; secondary)" in md
    assert "## Entropy law per run" in md and 'id="inference-verdicts"' in page
