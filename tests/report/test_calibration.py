"""Calibration of the verdict machinery (report/inference.py) on simulated sweeps with known truth.

Each simulated sweep: methods x 2 priors 31 points apart (0.30, 0.61) x 5 seeds, 64 test
problems. Per (prior, seed) cell the prior's per-problem pass@1 is its level + a seed shift
(sd 3 points) + the problem's difficulty (sd 15, shared by the test set) + sampling noise
(sd 15); each method's final pass@1 adds its true gain (5 points, plus the planted effect
for method m0) + a run shift (sd 2) + fresh sampling noise (sd 15). Gaussian on the pass@1
scale, so the truth is exact. family() runs on each sweep directly (no files); seeds fixed.

Numbers at the time of writing (pytest -s tests/report/test_calibration.py prints them):
- null, 5 methods, 400 sweeps x 10 pairs: the 95% CI of the pair difference covers 0 in
  95.2%; Holm difference p < 0.05 in some pair of the family in 3.2% of sweeps (family-wise
  <= 5%); margin ±6 points: "equivalent" for 97.9% of pairs, all 10 pairs in 92.5% of sweeps.
- planted 5 points, 2 methods, 400 sweeps: design MDD 3.9 points (mean reported 3.7);
  stated power 95.1% (noncentral t), "different" (with the right sign) found in 95.5%. In a
  5-method family (Holm over 10 pairs) the 4 truly different pairs are found in 68.8%.
- pure noise, 5 methods x 2 priors x 2 seeds (20 runs), 4000 sweeps: eta² of the method
  averages 21.3% (expected 4 / 19), omega² 0.5% unclipped and 6.7% clipped at 0 (as reported:
  clipping a nearly unbiased estimator at 0 biases it up under the null, by a third of eta²).
"""

import math

import numpy as np
from scipy import stats as st

from priorlab.report.inference import anova_ss, family, omega2

PRIORS = (0.30, 0.61)
N_SEEDS, N_PROBLEMS, N_SIMS = 5, 64, 400
BASE_GAIN, SEED_SD, RUN_SD, PROBLEM_SD, DIFFICULTY_SD = 0.05, 0.03, 0.02, 0.15, 0.15


def simulate(rng: np.random.Generator, *, n_methods: int, effect: float = 0.0):
    """One sweep's per-run (method, prior, seed, gain, level); m0 gains `effect` more."""
    difficulty = rng.normal(0, DIFFICULTY_SD, N_PROBLEMS)  # (P,) the shared test set
    method, prior, seed, gain, level = [], [], [], [], []
    for j, mu in enumerate(PRIORS):
        for s in range(N_SEEDS):
            noise = rng.normal(0, PROBLEM_SD, N_PROBLEMS)
            initial = mu + rng.normal(0, SEED_SD) + difficulty + noise  # (P,)
            for m in range(n_methods):
                true_gain = BASE_GAIN + (effect if m == 0 else 0.0) + rng.normal(0, RUN_SD)
                final = initial + true_gain + rng.normal(0, PROBLEM_SD, N_PROBLEMS)
                method.append(f"m{m}")
                prior.append(f"p{j}")
                seed.append(s)
                gain.append(float((final - initial).mean()))
                level.append(float(final.mean()))
    return method, prior, seed, gain, level


# sd of a per-cell difference in gain: two run shifts and two problem-noise means
CELL_SD = math.sqrt(2 * RUN_SD**2 + 2 * PROBLEM_SD**2 / N_PROBLEMS)
N_CELLS = len(PRIORS) * N_SEEDS


def report(name: str, value: float, text: str) -> str:
    line = f"calibration: {name} = {100 * value:.1f}% ({text})"
    print(line)
    return line


def test_null_coverage_false_difference_and_equivalence():
    rng = np.random.default_rng(20261129)
    covered, equivalent, any_different, all_equivalent = [], [], [], []
    for _ in range(N_SIMS):
        fam = family("null", *simulate(rng, n_methods=5), margin=0.06)
        pairs = fam["pairs"]
        covered += [p["lo"] <= 0 <= p["hi"] for p in pairs]
        equivalent += [p["outcome"] == "equivalent" for p in pairs]
        any_different.append(any(p["p_diff_holm"] < 0.05 for p in pairs))
        all_equivalent.append(all(p["outcome"] == "equivalent" for p in pairs))
    coverage = report("coverage", np.mean(covered), f"{len(covered)} pair CIs, truth 0")
    assert 0.93 <= np.mean(covered) <= 0.97, coverage
    wrong = report(
        "family-wise false difference", np.mean(any_different), "sweeps, Holm p < 0.05 in a pair"
    )
    assert np.mean(any_different) <= 0.08, wrong
    eq = report("equivalent", np.mean(equivalent), "pairs, truth 0, margin ±6 points")
    assert np.mean(equivalent) >= 0.80, eq
    report("all equivalent", np.mean(all_equivalent), "sweeps with all 10 pairs equivalent")


def stated_power(effect: float, sd: float, n: int) -> float:
    """Power of the two-sided paired t-test at alpha 0.05 (noncentral t)."""
    df, ncp = n - 1, effect / (sd / math.sqrt(n))
    crit = st.t.ppf(0.975, df)
    return float(st.nct.sf(crit, df, ncp) + st.nct.cdf(-crit, df, ncp))


def test_planted_effect_is_found_at_the_stated_power():
    rng = np.random.default_rng(7)
    effect = 0.05
    design_mdd = (st.t.ppf(0.975, N_CELLS - 1) + st.t.ppf(0.8, N_CELLS - 1)) * CELL_SD
    design_mdd /= math.sqrt(N_CELLS)
    assert design_mdd < effect
    power = stated_power(effect, CELL_SD, N_CELLS)
    found, mdds = [], []
    for _ in range(N_SIMS):
        fam = family("planted", *simulate(rng, n_methods=2, effect=effect), margin=0.02)
        (pair,) = fam["pairs"]
        found.append(pair["outcome"] == "different" and pair["sign"] == "m0 > m1")
        mdds.append(fam["mdd"])
    print(f"calibration: design MDD {100 * design_mdd:.1f} points, mean reported MDD "
          f"{100 * np.mean(mdds):.1f} points")  # fmt: skip
    line = report("power", np.mean(found), f"stated {100 * power:.1f}%, planted 5 points")
    assert np.mean(found) >= power - 0.10, line
    assert abs(np.mean(mdds) - design_mdd) < 0.01

    # with Holm over the 10 pairs of a 5-method family the same effect is found less often
    hits = []
    for _ in range(N_SIMS // 2):
        fam = family("planted5", *simulate(rng, n_methods=5, effect=effect), margin=0.02)
        hits += [p["outcome"] == "different" for p in fam["pairs"] if p["a"] == "m0"]
    report("power under Holm", np.mean(hits), "4 truly different pairs of 10, 5 methods")
    assert np.mean(hits) < np.mean(found)


def test_omega2_removes_the_many_level_bias_of_eta2():
    """Pure noise on the issue's design: 5 methods x 2 priors x 2 seeds (20 runs)."""
    rng = np.random.default_rng(11)
    method = [f"m{m}" for m in range(5) for _ in range(4)]
    prior = [f"p{j}" for _ in range(5) for j in (0, 1) for _ in range(2)]
    y = rng.normal(size=(4000, len(method)))  # (B, N): one null sweep per row
    table = anova_ss(y, method, prior)
    eta2 = np.mean(table["ss"]["algo"] / table["ss"]["total"])
    unclipped = np.mean(omega2(table, clip=False)["algo"])
    clipped = np.mean(omega2(table)["algo"])
    line = (
        report("eta² of method", eta2, "pure noise, expected df / (N - 1) = 4 / 19")
        + "; "
        + report("omega² of method", unclipped, "unclipped")
        + "; "
        + report("omega² of method", clipped, "clipped at 0, as reported")
    )
    assert eta2 > 0.15 and abs(unclipped) < 0.03 and clipped < eta2 / 2, line
