"""Calibration of the verdict machinery (report/inference.py, report/crossed.py) on simulated
sweeps with known truth: every check must be able to pass and to fail.

Each simulated sweep: methods x 2 priors (0.30, 0.61) x S seeds, Q test problems shared by
every run. Per (prior, seed) cell the prior's per-problem pass@1 is its level + a seed shift
(sd 3 points) + the problem's difficulty (sd 15) + sampling noise (sd 15); each method's
final pass@1 adds its true gain (5 points, plus `effect` for m0) + a run shift (sd 2) + the
method x problem interaction v[m, q] (sd `interaction`, the same in every cell: the noise the
across-cell sd cannot see) + fresh sampling noise (sd 15). Gaussian on the pass@1 scale, so
the truth is exact; the truth of a pair is the difference of its gains over the population
of problems (v averages 0). Seeds fixed; `pytest -s` prints the figures.
"""

import math

import numpy as np
from scipy import stats as st

from priorlab.report.collapse import collapses
from priorlab.report.inference import family
from priorlab.report.load import Run
from priorlab.report.stats import anova_ss, partial_omega2

PRIORS = (0.30, 0.61)
BASE_GAIN, SEED_SD, RUN_SD, NOISE_SD, DIFFICULTY_SD = 0.05, 0.03, 0.02, 0.15, 0.15


def simulate(rng, *, n_methods, effect=0.0, interaction=0.0, seeds=5, problems=64):
    """One sweep's per-run (method, prior, seed, gain (R, Q), level (R,)); m0 gains `effect`
    more; v[m, q] ~ N(0, interaction) is each method's own problem profile."""
    difficulty = rng.normal(0, DIFFICULTY_SD, problems)
    profile = rng.normal(0, interaction, (n_methods, problems))
    method, prior, seed, gain, level = [], [], [], [], []
    for j, mu in enumerate(PRIORS):
        for s in range(seeds):
            initial = mu + rng.normal(0, SEED_SD) + difficulty + rng.normal(0, NOISE_SD, problems)
            for m in range(n_methods):
                true_gain = BASE_GAIN + (effect if m == 0 else 0.0) + rng.normal(0, RUN_SD)
                final = initial + true_gain + profile[m] + rng.normal(0, NOISE_SD, problems)
                method.append(f"m{m}")
                prior.append(f"p{j}")
                seed.append(s)
                gain.append(final - initial)
                level.append(float(final.mean()))
    return method, prior, seed, np.array(gain), np.array(level)


def report(name: str, value: float, text: str) -> str:
    line = f"calibration: {name} = {100 * value:.1f}% ({text})"
    print(line)
    return line


def naive_covers(pair_gain: np.ndarray) -> bool:
    """Yesterday's interval: the paired t over cell means, problems fixed (for contrast)."""
    d = pair_gain.mean(axis=1)
    half = st.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return abs(d.mean()) <= half


def test_null_coverage_with_a_method_by_problem_interaction():
    """sd 10 points of method x problem interaction at 64 problems: the pair's CI covers the
    truth ~95%, the interval without the problem term far less."""
    rng = np.random.default_rng(20261203)
    covered, naive, any_different = [], [], []
    for _ in range(300):
        sweep = simulate(rng, n_methods=3, interaction=0.10)
        fam = family("null", *sweep, margin=0.02)
        covered += [p["lo"] <= 0 <= p["hi"] for p in fam["pairs"]]
        any_different.append(any(p["p_diff_holm"] < 0.05 for p in fam["pairs"]))
        method, gain = np.array(sweep[0]), sweep[3]
        naive.append(naive_covers(gain[method == "m0"] - gain[method == "m1"]))
    line = report("coverage with interaction", np.mean(covered), "pair CIs, truth 0")
    report("coverage of the cells-only interval", np.mean(naive), "the old estimator")
    assert 0.93 <= np.mean(covered) <= 0.975, line
    assert np.mean(naive) < 0.80
    wrong = report("family-wise false difference", np.mean(any_different), "Holm, 3 pairs")
    assert np.mean(any_different) <= 0.08, wrong


def test_null_equivalence_and_the_shown_interval():
    """No interaction, margin ±6: most truly equal pairs are equivalent, and a pair is
    equivalent exactly when its shown (tested) interval lies inside the margin."""
    rng = np.random.default_rng(20261129)
    equivalent, agree = [], []
    for _ in range(200):
        fam = family("null", *simulate(rng, n_methods=5), margin=0.06)
        for p in fam["pairs"]:
            equivalent.append(p["outcome"] == "equivalent")
            inside = -0.06 < p["tested_lo"] and p["tested_hi"] < 0.06
            agree.append(inside == (p["outcome"] == "equivalent"))
    eq = report("equivalent", np.mean(equivalent), "pairs, truth 0, margin ±6 points")
    assert np.mean(equivalent) >= 0.80, eq
    assert all(agree)


def equal_pairs_equivalent(rng, sims: int, **design) -> tuple[float, float]:
    """(share of truly equal pairs declared equivalent under Holm, mean computed power)."""
    hits, powers = [], []
    for _ in range(sims):
        fam = family("equal", *simulate(rng, n_methods=4, **design), margin=0.03)
        hits += [p["outcome"] == "equivalent" for p in fam["pairs"]]
        powers.append(fam["power"]["equivalence"])
    return float(np.mean(hits)), float(np.mean(powers))


def test_powered_means_a_truly_equal_pair_is_declared_equivalent():
    """`powered` (computed power >= 80% at Holm's first step) -> >= 80% of truly equal pairs
    equivalent in simulation; a design it calls underpowered falls short. The computed
    power is a lower bound: Holm's later steps are more lenient than its first."""
    rng = np.random.default_rng(5)
    rate, power = equal_pairs_equivalent(rng, 100, seeds=12, problems=400)
    line = report("equivalent when powered", rate, f"computed power {100 * power:.0f}%")
    assert power >= 0.80 and rate >= 0.80 and rate >= power - 0.05, line
    rate, power = equal_pairs_equivalent(rng, 100, seeds=3, problems=64, interaction=0.05)
    line = report("equivalent when underpowered", rate, f"computed power {100 * power:.0f}%")
    assert power < 0.80 and rate < 0.80, line


def test_planted_effect_is_found_and_settle_predicts_the_cells_it_needs():
    rng = np.random.default_rng(7)
    found = []
    for _ in range(200):
        fam = family("planted", *simulate(rng, n_methods=2, effect=0.05), margin=0.02)
        (pair,) = fam["pairs"]
        found.append(pair["outcome"] == "different" and pair["sign"] == "m0 > m1")
    line = report("planted 5 points found", np.mean(found), "2 methods, 10 cells")
    assert np.mean(found) >= 0.85, line
    # a 2-point effect at 2 seeds per prior is inconclusive; at the seeds settle asks for,
    # it is found about 80% of the time
    advice = []
    for _ in range(20):
        fam = family("small", *simulate(rng, n_methods=2, effect=0.02, seeds=2), margin=0.005)
        (pair,) = fam["pairs"]
        if pair["outcome"] == "inconclusive" and pair["settle"]["route"] == "difference":
            advice.append(pair["settle"]["seeds_per_prior"])
    seeds = int(np.median(advice))
    hits = []
    for _ in range(150):
        fam = family("big", *simulate(rng, n_methods=2, effect=0.02, seeds=seeds), margin=0.005)
        hits.append(fam["pairs"][0]["outcome"] == "different")
    line = report("found at the advised seeds", np.mean(hits), f"{seeds} seeds per prior")
    assert 0.6 <= np.mean(hits) <= 0.97, line


def zero_change_tables(rng, runs: int = 180, problems: int = 64, loss: float = 0.0):
    """runs whose true change is -loss, problems x 8 samples of per-problem noise."""
    initial = rng.uniform(0.1, 0.9, (runs, problems))
    noise = rng.normal(0, 0.15, (runs, problems))
    final = initial - loss + noise
    cells = [Run("a", "p", s, f"r{s}", None) for s in range(runs)]
    return type(
        "T", (), {"runs": cells, "final": {"pass@1": final}, "initial": {"pass@1": initial}}
    )


def test_collapse_flags_with_a_margin_and_holm():
    rng = np.random.default_rng(11)
    flagged, old = [], []
    for _ in range(200):
        tables = zero_change_tables(rng)
        rows = collapses(tables, margin=0.02)
        flagged.append(any(r["collapsed"] for r in rows))
        old.append(any(r["hi"] < 0 for r in rows))  # yesterday's rule: any 95% CI below 0
    line = report("sweeps with a false collapse", np.mean(flagged), "180 zero-change runs")
    report("sweeps flagged by the old rule", np.mean(old), "95% CI below 0, no margin")
    assert np.mean(flagged) <= 0.05 and np.mean(old) > 0.9, line
    # a run that truly lost 12 points among 179 unchanged ones is found (10 points: ~72%,
    # the price of Holm over 180 runs at 64 problems)
    hits = []
    for _ in range(100):
        tables = zero_change_tables(rng)
        tables.final["pass@1"][0] -= 0.12
        hits.append(collapses(tables, margin=0.02)[0]["collapsed"])
    line = report("a 12-point collapse found", np.mean(hits), "1 of 180 runs, Holm")
    assert np.mean(hits) >= 0.85, line


def test_partial_omega2_removes_the_many_level_bias_of_eta2():
    """Pure noise: 5 methods x 2 priors x 2 seeds (20 runs), 4000 sweeps at once."""
    rng = np.random.default_rng(11)
    method = [f"m{m}" for m in range(5) for _ in range(4)]
    prior = [f"p{j}" for _ in range(5) for j in (0, 1) for _ in range(2)]
    y = rng.normal(size=(4000, len(method)))  # (B, N): one null sweep per row
    table = anova_ss(y, method, prior)
    eta2 = np.mean(table["ss"]["algo"] / table["ss"]["total"])
    unclipped = np.mean(partial_omega2(table, clip=False)["algo"])
    line = (
        report("eta² of method", eta2, "pure noise, expected 4 / 19")
        + "; "
        + report("partial omega² of method", unclipped, "unclipped")
    )
    assert eta2 > 0.15 and abs(unclipped) < 0.03, line
    # a prior effect alone: eta² of the prior grows with the spacing, partial omega² of the
    # method stays near 0 however far apart the priors are
    spaced = y + 10.0 * (np.array(prior) == "p1")
    shares = partial_omega2(anova_ss(spaced, method, prior), clip=False)
    assert abs(np.mean(shares["algo"])) < 0.03 and np.mean(shares["prior"]) > 0.9
