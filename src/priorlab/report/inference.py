"""Inference per family: what training did (the gain), equivalence, power, unbiased shares.

Outcome. gain[r, q] = final y[r, q] - initial y[r, q] for run r and test problem q, the run's
own prior evaluated on the same problems (paired per problem), y the verdict's metric (METRICS:
sampled pass@1 by default, or the greedy decode's correctness). Runs of one prior and seed
share that initial table, so a difference in gain between two methods is also their
difference in final y; the gain only changes what a method's own number means.

Scope and unit. A pair of methods a, b is compared on the (prior, seed) cells where both
ran: D[c, q] = gain_a - gain_b. Priors are fixed strata (the effect is averaged over the
sweep's priors with equal weight and also given per prior, with a test of whether it differs
between them); seeds and test problems are random and crossed, so the standard error holds
the seed-to-seed noise and the method x problem interaction (report/crossed.py; Satterthwaite
df). The interval "on these test problems" (problems fixed) is reported beside it.

Tests. The difference: t = diff / se. Equivalence: two one-sided t-tests against the
declared margin m (Schuirmann 1987; Lakens 2017), p_tost = max(P(d <= -m), P(d >= m)).
Families are the sweep's pre-declared levels (one family "all" for an unleveled sweep,
without the "sft" baseline); Holm (1979) within each family, once over its difference tests
(family-wise error of a false "different" <= alpha) and once over its TOSTs (family-wise
error of a false "equivalent", i.e. of calling a pair with |true diff| >= m equivalent, <=
alpha). A pair is "equivalent" when its Holm TOST rejects; it is also "different" (and keeps
its sign) when its Holm difference test rejects, i.e. detectably non-zero but smaller than
the margin; else "different"; else "inconclusive": absence of evidence is never equivalence.

What is shown is what was tested. TOST at level alpha_i is the (1 - 2 alpha_i) interval lying
inside (-m, m). Holm tests the i-th smallest p_tost at alpha / (K - i + 1) and stops at the
first it cannot reject (rank J); each pair's tested interval uses alpha / (K - min(i, J) + 1),
so an equivalent pair's tested interval lies inside the margin and every other pair's does
not. The 95% difference interval is shown beside it.

Power. `powered` asks whether a truly equal pair would be declared equivalent: at the
family's noisiest pair (largest se, its df), P(|d| + t_{1-alpha/K} se_hat < m | true 0),
integrated analytically over se_hat (crossed.equivalence_power). alpha / K is Holm's first,
strictest step, so this is a lower bound on the probability under Holm. The detectable
difference (MDD) is given at the same step: (t_{1-alpha/(2K)} + t_{0.80}) se.

Shares: partial omega^2 (Olejnik & Algina 2003, Psychological Methods 8(4)) of each term of
the Type II two-way ANOVA method * prior (residual = seed): (SS_t - df_t MS_res) / (SS_t +
(N - df_t) MS_res), clipped at 0. Method and prior are both manipulated factors, so the
generalized omega^2 equals the partial one: the other manipulated factor stays out of the
denominator, and the prior's share no longer grows with how far apart the priors were chosen.

Units: every number here is a fraction of the family's metric (pass@1 or greedy accuracy);
verdicts and tables show points (x 100).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from scipy.special import stdtr, stdtrit

from priorlab.report.crossed import (
    cells_to_settle,
    crossed,
    equivalence_power,
    heterogeneity,
)
from priorlab.report.load import STAGES
from priorlab.report.stats import anova_ss, holm, partial_omega2

ALPHA = 0.05
POWER = 0.80
DEFAULT_MARGIN = 0.02  # +-2 points of pass@1 when the sweep's spec declares none
# The metric a family is computed on (the spec's `metric`): key of load.Tables -> description.
METRICS = {
    "pass@1": "sampled pass@1: the mean over the n samples per problem, at temperature 1",
    "greedy": "greedy accuracy (maj@1): the one greedy decode per problem correct or not",
}
# pass@1 by default, though Havrilla et al. (2024) report greedy accuracy: pass@1 averages n
# samples per problem, so its per-problem variance is far below that of one 0/1 greedy decode
# (the same seeds detect a smaller difference); it measures the sampling distribution the RL
# gradient acts on; and greedy accuracy saturates early on strong priors (the default sweep's
# strong prior is already ~0.9 greedy), leaving a method no room to differ. Both are reported.
DEFAULT_METRIC = "pass@1"
OUTCOMES = ("equivalent", "different", "inconclusive")
SHARE_TERMS = {"method": "algo", "prior": "prior", "interaction": "interaction"}
SCOPE = (
    "seeds and test problems random (crossed), priors fixed strata weighted equally; "
    "'on these problems' intervals hold the problems fixed"
)

# --- Tests on one estimate ---


def tost_p(diff: float, se: float, df: float, *, margin: float) -> float:
    """Two one-sided t-tests of H0: |d| >= margin: max of p(d <= -m) and p(d >= m).

    t_low = (diff + m) / se against the upper tail, t_high = (diff - m) / se against the
    lower tail, both with df degrees of freedom (Schuirmann 1987). se = 0: 0 inside the margin.
    """
    if se == 0:
        return 0.0 if abs(diff) < margin else 1.0
    p_low = stdtr(df, -(diff + margin) / se)  # upper tail of t_low
    p_high = stdtr(df, (diff - margin) / se)
    return float(max(p_low, p_high))


def assess(estimate: dict, *, margin: float) -> dict:
    """The tests of one crossed estimate: {diff, se, df, lo, hi (95%), lo_fixed, hi_fixed
    (95%, problems fixed), p_diff, p_tost}; intervals and p None without an se."""
    diff, se, df = estimate["diff"], estimate["se"], estimate["df"]
    out = {k: estimate[k] for k in ("diff", "se", "df", "n_cells")}
    out |= dict.fromkeys(("lo", "hi", "lo_fixed", "hi_fixed", "p_diff", "p_tost"))
    if se is None or df is None:
        return out
    half = float(stdtrit(df, 1 - ALPHA / 2)) * se
    out |= {"lo": diff - half, "hi": diff + half}
    if estimate["se_fixed"] is not None and estimate["df_fixed"]:
        half = float(stdtrit(estimate["df_fixed"], 1 - ALPHA / 2)) * estimate["se_fixed"]
        out |= {"lo_fixed": diff - half, "hi_fixed": diff + half}
    if se > 0:
        p_diff = float(2 * stdtr(df, -abs(diff) / se))
    else:  # every cell and problem gave the same difference
        p_diff = 1.0 if diff == 0 else 0.0
    return out | {"p_diff": p_diff, "p_tost": tost_p(diff, se, df, margin=margin)}


def interval(estimate: dict) -> dict:
    """{mean, lo, hi}: the estimate with its 95% crossed t interval (None without an se)."""
    out = assess(estimate, margin=1.0)
    return {"mean": out["diff"], "lo": out["lo"], "hi": out["hi"]}


def holm_levels(pvalues: Sequence[float], *, alpha: float = ALPHA) -> list[float]:
    """The level Holm tests each p at, in input order: alpha / (K - min(i, J) + 1) for the
    p of rank i (1-based, stable), J the rank of the first p Holm cannot reject."""
    p = np.asarray(pvalues, dtype=float)
    k = len(p)
    order = np.argsort(p, kind="stable")
    steps = alpha / (k - np.arange(k))  # the level at rank 1..K
    failed = np.flatnonzero(p[order] >= steps)
    stop = failed[0] if len(failed) else k
    levels = np.empty(k)
    levels[order] = steps[np.minimum(np.arange(k), stop)]
    return [float(v) for v in levels]


# --- One family ---


def _strata(rows: dict, a: str, b: str, gain: np.ndarray) -> dict[str, np.ndarray]:
    """{prior: (C_p, Q) differences gain_a - gain_b on the cells both ran}, priors sorted."""
    out = {}
    for prior in sorted({p for (_, p, _) in rows}):
        seeds = sorted(s for (m, p, s) in rows if m == a and p == prior and (b, p, s) in rows)
        if seeds:
            out[prior] = np.stack(
                [gain[rows[(a, prior, s)]] - gain[rows[(b, prior, s)]] for s in seeds]
            )
    return out


def _method_strata(rows: dict, method: str, gain: np.ndarray) -> dict[str, np.ndarray]:
    """{prior: (C_p, Q) gains of the method's runs}, priors sorted."""
    out: dict[str, list] = {}
    for (m, p, _), i in sorted(rows.items()):
        if m == method:
            out.setdefault(p, []).append(gain[i])
    return {p: np.stack(v) for p, v in sorted(out.items())}


def _pair(a: str, b: str, strata: dict[str, np.ndarray], margin: float) -> dict:
    """One pair's tests (before Holm): pooled over priors, per prior, heterogeneity."""
    pooled = crossed(list(strata.values()))
    by_prior = {
        prior: assess(crossed([d]), margin=margin) | {"n_cells": len(d)}
        for prior, d in strata.items()
    }
    return {
        "a": a,
        "b": b,
        "n_priors": len(strata),
        **assess(pooled, margin=margin),
        "var_seeds": pooled["var_seeds"],
        "var_problems": pooled["var_problems"],
        "by_prior": {
            p: {k: v[k] for k in ("diff", "lo", "hi", "n_cells")} for p, v in by_prior.items()
        },
        "heterogeneity": heterogeneity(list(strata.values())),
    }


def decide(pairs: list[dict], *, margin: float) -> None:
    """Holm within the family, the tested interval, outcome, sign and what would settle it."""
    for key in ("p_diff", "p_tost"):
        done = [pair for pair in pairs if pair[key] is not None]
        adjusted, levels = holm([p[key] for p in done]), holm_levels([p[key] for p in done])
        for pair in pairs:
            pair[f"{key}_holm"] = adjusted.pop(0) if pair[key] is not None else None
            if key == "p_tost":
                pair["tested_level"] = 1 - 2 * levels.pop(0) if pair[key] is not None else None
    n_tests = max(1, sum(pair["p_tost"] is not None for pair in pairs))
    for pair in pairs:
        pair |= dict.fromkeys(("tested_lo", "tested_hi", "sign", "settle"))
        if pair["tested_level"] is not None:
            half = float(stdtrit(pair["df"], (1 + pair["tested_level"]) / 2)) * pair["se"]
            pair |= {"tested_lo": pair["diff"] - half, "tested_hi": pair["diff"] + half}
        equivalent = pair["p_tost_holm"] is not None and pair["p_tost_holm"] < ALPHA
        different = pair["p_diff_holm"] is not None and pair["p_diff_holm"] < ALPHA
        if different:
            a, b = pair["a"], pair["b"]
            pair["sign"] = f"{a} > {b}" if pair["diff"] > 0 else f"{a} < {b}"
        pair["different"] = different
        pair["outcome"] = (
            "equivalent" if equivalent else "different" if different else "inconclusive"
        )
        if pair["outcome"] == "inconclusive":
            pair["settle"] = _settle(pair, margin=margin, n_tests=n_tests)


def _settle(pair: dict, *, margin: float, n_tests: int) -> dict | None:
    """cells_to_settle of an inconclusive pair, with seeds per prior (its priors share them)."""
    estimate = {k: pair[k] for k in ("diff", "se", "n_cells", "var_seeds", "var_problems")}
    found = cells_to_settle(
        estimate, margin=margin, alpha=ALPHA, n_tests=n_tests, n_strata=pair["n_priors"]
    )
    if found is None:
        return None
    cells = found["cells"]
    per_prior = None if cells is None else math.ceil(cells / max(1, pair["n_priors"]))
    return found | {"seeds_per_prior": per_prior}


def power(pairs: list[dict], *, margin: float) -> dict | None:
    """Can the family declare a truly equal pair equivalent? At its noisiest pair (largest
    se): {pair, se, df, alpha (Holm's first step), equivalence (the probability), powered
    (>= 80%), mdd (80% power, two-sided, at the same step)}; None without a measured pair."""
    measured = [p for p in pairs if p["se"] is not None and p["df"]]
    if not measured:
        return None
    worst = max(measured, key=lambda p: (p["se"], p["a"], p["b"]))
    step = ALPHA / len(measured)
    prob = equivalence_power(worst["se"], worst["df"], margin=margin, alpha=step)
    quantiles = stdtrit(worst["df"], 1 - step / 2) + stdtrit(worst["df"], POWER)
    return {
        "pair": f"{worst['a']} - {worst['b']}",
        "se": worst["se"],
        "df": worst["df"],
        "alpha": step,
        "equivalence": prob,
        "powered": prob >= POWER,
        "mdd": float(quantiles * worst["se"]),
    }


def _shares(y: np.ndarray, method: list[str], prior: list[str]) -> dict:
    """{method, prior, interaction}: clipped partial omega^2 of y (one value per run)."""
    w = partial_omega2(anova_ss(y, method, prior))
    out = {}
    for name, term in SHARE_TERMS.items():
        value = None if w[term] is None else float(w[term][0])
        out[name] = value if value is not None and math.isfinite(value) else None
    return out


def family(
    name: str,
    method: Sequence[str],
    prior: Sequence[str],
    seed: Sequence[int],
    gain: np.ndarray,
    level: Sequence[float],
    *,
    margin: float,
    metric: str = DEFAULT_METRIC,
) -> dict:
    """The inference entry of one family from its runs (one per method, prior, seed): gain
    (R, Q) per run and test problem (final - initial `metric`), level (R,) mean final metric.

    Returns {family, metric, methods, margin, scope, n_cells, holm, power, gain,
    gain_by_prior, prior_level, omega2_gain, omega2_level, pairs}; see report/__init__.py.
    """
    method, prior = [str(m) for m in method], [str(p) for p in prior]
    gain = np.atleast_2d(np.asarray(gain, dtype=float))
    level = np.asarray(level, dtype=float)
    rows = {(m, p, int(s)): i for i, (m, p, s) in enumerate(zip(method, prior, seed))}
    methods = sorted(set(method))
    pairs = [
        _pair(a, b, strata, margin)
        for a, b in itertools.combinations(methods, 2)
        if (strata := _strata(rows, a, b, gain))
    ]
    decide(pairs, margin=margin)
    by_method = {m: _method_strata(rows, m, gain) for m in methods}
    run_gain = gain.mean(axis=1)
    return {
        "family": name,
        "metric": metric,
        "methods": methods,
        "margin": margin,
        "scope": SCOPE,
        "n_cells": min((pair["n_cells"] for pair in pairs), default=0),
        "holm": {
            "tests": len(pairs),
            "error": f"family-wise error <= {ALPHA:g}, once over the {len(pairs)} difference "
            f"tests and once over the {len(pairs)} equivalence tests of {name}",
        },
        "power": power(pairs, margin=margin),
        "gain": {m: interval(crossed(list(s.values()))) for m, s in by_method.items()},
        "gain_by_prior": {
            m: {p: interval(crossed([g])) for p, g in s.items()} for m, s in by_method.items()
        },
        "prior_level": {  # the prior's own level of the metric: final level minus gain
            p: float(np.mean((level - run_gain)[np.asarray(prior) == p]))
            for p in sorted(set(prior))
        },
        "omega2_gain": _shares(run_gain, method, prior),
        "omega2_level": _shares(level, method, prior),
        "pairs": pairs,
    }


# --- From the sweep ---


def _groups(runs, baseline: str) -> list[tuple[str, list[tuple[int, str]]]]:
    """[(family, [(run index, method)])]: each level of the sweep (sorted), or one family
    "all" of every algorithm but the baseline for an unleveled sweep; empty families dropped."""
    names = sorted({name for run in runs for name in run.levels})
    groups = [
        (
            name,
            [(i, run.levels[name]["method"]) for i, run in enumerate(runs) if name in run.levels],
        )
        for name in names
    ] or [("all", [(i, run.algo) for i, run in enumerate(runs) if run.algo != baseline])]
    return [(name, members) for name, members in groups if members]


def families(
    tables, *, margin: float, baseline: str = "sft", metric: str = DEFAULT_METRIC
) -> list[dict]:
    """family() on `metric` (a key of METRICS) for each family of _groups whose runs all
    measured it (the others: skipped_families). tables: report.load.Tables."""
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r}; valid: {', '.join(METRICS)}")
    runs = tables.runs
    gain_all = tables.final[metric] - tables.initial[metric]  # (R, Q)
    level_all = tables.final[metric].mean(axis=1)
    out = []
    for name, members in _groups(runs, baseline):
        idx = [i for i, _ in members]
        if tables.lacking(metric, idx):
            continue
        out.append(
            family(
                name,
                [m for _, m in members],
                [runs[i].prior for i in idx],
                [runs[i].seed for i in idx],
                gain_all[idx],
                level_all[idx],
                margin=margin,
                metric=metric,
            )
        )
    return out


def skipped_families(tables, *, baseline: str = "sft", metric: str = DEFAULT_METRIC) -> list[dict]:
    """The families families() leaves out on `metric`: [{family, metric, runs (the ids that
    lack it), reason}]; a gain needs the metric on every problem before and after training."""
    out = []
    for name, members in _groups(tables.runs, baseline):
        lacking = tables.lacking(metric, [i for i, _ in members])
        if lacking:
            shown = ", ".join(lacking[:3]) + (", ..." if len(lacking) > 3 else "")
            what = "a greedy decode of every problem" if metric == "greedy" else metric
            reason = (
                f"{len(lacking)} of its {len(members)} runs ({shown}) lack {what} in "
                f"{' or '.join(STAGES.values())}"
            )
            out.append({"family": name, "metric": metric, "runs": lacking, "reason": reason})
    return out
