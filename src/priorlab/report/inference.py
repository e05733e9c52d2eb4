"""Inference per family: what training did (the gain), equivalence, power, unbiased shares.

Outcome. For run r and test problem p, gain[r, p] = final pass@1[r, p] - initial pass@1[r, p],
the run's own prior evaluated on the same problems (paired per problem). Runs of one prior and
seed share that initial table, so a difference in gain between two methods is also their
difference in final pass@1; the gain only changes what a method's own number means.

Unit of inference: the (prior, seed) cell. For a pair of methods a, b of a family, d_cell =
mean over problems of (gain_a - gain_b), over the cells where both have a run; the test is
the paired t-test across cells (df = n_cells - 1). Seeds and priors are the replicates; the
problem-to-problem noise sits inside each cell mean, which averages 64+ problems and is
near-normal by the central limit theorem, so the analytic test's assumptions hold and its
p-values reach any threshold Holm needs (a bootstrap over 2-5 seeds cannot: its p is
floored at 2/(B+1) and its resamples of so few seeds are degenerate).

Equivalence: two one-sided t-tests against the declared margin m (Schuirmann 1987; Lakens
2017), p_tost = max(P(d <= -m), P(d >= m)): significant means the difference lies inside
(-m, m). Families are the sweep's pre-declared levels (one family "all" for an unleveled
sweep, without the "sft" baseline); Holm (1979) within each family, separately for the
difference p-values and the TOST p-values. A pair is "equivalent" when Holm TOST p < 0.05
(this takes precedence: a difference smaller than the margin is practically nil even when
it is detectably non-zero), else "different" when Holm difference p < 0.05, else
"inconclusive": absence of evidence is never read as equivalence.

Power: MDD = (t_{0.975,df} + t_{0.80,df}) sd / sqrt(n), the smallest difference one paired
comparison detects with 80% power at two-sided alpha 0.05, with n the family's smallest
pair n_cells and sd the pooled sd of d_cell over the family's pairs (pooled variance,
weights n_cells - 1). It is per comparison: Holm over K pairs tests its first step at
0.05 / K, so the family's detectable difference is larger. For an inconclusive pair, the
cells that would settle it (normal approximation, from the pair's own sd and difference):
equivalence when |d| < m, n = ((z_0.95 + z_0.90) sd / (m - |d|))^2; difference otherwise,
n = ((z_0.975 + z_0.80) sd / |d|)^2; seeds per prior = ceil(n / n_priors).

Shares: omega^2 (Olejnik & Algina 2003, Psychological Methods 8(4)) of each term of the
Type II two-way ANOVA method * prior (residual = seed): (SS_t - df_t MS_res) / (SS_total +
MS_res), clipped at 0. eta^2 = SS_t / SS_total is biased upward by about df_t / (N - 1)
under the null (22% for a 5-level factor with 20 runs); omega^2 subtracts the share the
term's degrees of freedom would win by chance. Computed on each run's mean gain (what
training did) and on its final pass@1 (the level: how much of it the prior explains). A
mixed model (seeds, problems random) was not chosen: with 2-5 seeds per cell its variance
components sit on the boundary and MixedLM often fails to converge.

Units: every number here is in pass@1 (a fraction); verdicts and tables show points (x 100).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml
from scipy.special import ndtri, stdtr, stdtrit

from priorlab.errors import DataError
from priorlab.report.stats import TERMS, _design, estimable_terms, type2_sums_of_squares

ALPHA = 0.05
POWER = 0.80
DEFAULT_MARGIN = 0.02  # +-2 points of pass@1 when the sweep's spec declares none
OUTCOMES = ("equivalent", "different", "inconclusive")
SHARE_TERMS = {"method": "algo", "prior": "prior", "interaction": "interaction"}

# --- Tests on one pair ---


def tost_p(diff: float, se: float, df: int, *, margin: float) -> float:
    """Two one-sided t-tests of H0: |d| >= margin: max of p(d <= -m) and p(d >= m).

    t_low = (diff + m) / se against the upper tail, t_high = (diff - m) / se against the
    lower tail, both with df degrees of freedom (Schuirmann 1987). se = 0: 0 inside the margin.
    """
    if se == 0:
        return 0.0 if abs(diff) < margin else 1.0
    p_low = stdtr(df, -(diff + margin) / se)  # upper tail of t_low
    p_high = stdtr(df, (diff - margin) / se)
    return float(max(p_low, p_high))


def paired_t(d: Sequence[float], *, margin: float) -> dict:
    """Paired t statistics of the per-cell differences d (n,): {n_cells, diff, sd, lo, hi,
    p_diff, p_tost}; lo, hi the 95% t interval; sd, p and the interval None when n < 2."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    out = {"n_cells": n, "diff": float(d.mean()) if n else None}
    out |= dict.fromkeys(("sd", "lo", "hi", "p_diff", "p_tost"))
    if n < 2:
        return out
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    se, df = sd / math.sqrt(n), n - 1
    half = float(stdtrit(df, 1 - ALPHA / 2)) * se
    if se > 0:
        p_diff = float(2 * stdtr(df, -abs(mean) / se))
    else:  # every cell gave the same difference
        p_diff = 1.0 if mean == 0 else 0.0
    p_tost = tost_p(mean, se, df, margin=margin)
    return out | {
        "sd": sd,
        "lo": mean - half,
        "hi": mean + half,
        "p_diff": p_diff,
        "p_tost": p_tost,
    }


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values, in the input order: the i-th smallest of m is
    multiplied by m - i + 1, then made monotone and capped at 1 (as stats.holm, without
    statsmodels' per-call overhead, which the calibration simulations would pay thousands
    of times)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(scaled, 1.0)
    return [float(v) for v in out]


def t_interval(values: Sequence[float]) -> dict:
    """{mean, lo, hi}: the mean with its 95% t interval (lo, hi None for fewer than 2 values)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return {"mean": float(v.mean()) if len(v) else None, "lo": None, "hi": None}
    half = float(stdtrit(len(v) - 1, 1 - ALPHA / 2)) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return {"mean": float(v.mean()), "lo": float(v.mean()) - half, "hi": float(v.mean()) + half}


def mdd(sd: float | None, n: int, *, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """Minimum detectable difference of a paired t-test: (t_{1-a/2,n-1} + t_{power,n-1}) sd /
    sqrt(n); None when n < 2 or sd is unknown."""
    if sd is None or n < 2:
        return None
    df = n - 1
    return float((stdtrit(df, 1 - alpha / 2) + stdtrit(df, power)) * sd / math.sqrt(n))


def cells_to_settle(diff: float, sd: float | None, *, margin: float) -> float | None:
    """Cells a paired design needs to settle a pair (normal approximation, unrounded).

    |diff| < m: equivalence, ((z_0.95 + z_0.90) sd / (m - |diff|))^2; else a difference,
    ((z_0.975 + z_0.80) sd / |diff|)^2. None when sd is unknown or |diff| == m.
    """
    if sd is None or diff is None or abs(diff) == margin:
        return None
    if abs(diff) < margin:
        z = ndtri(1 - ALPHA) + ndtri(0.90)
        return float((z * sd / (margin - abs(diff))) ** 2)
    z = ndtri(1 - ALPHA / 2) + ndtri(POWER)
    return float((z * sd / abs(diff)) ** 2)


# --- Shares of variance without the eta^2 bias ---


def anova_ss(y: np.ndarray, method: Sequence[str], prior: Sequence[str]) -> dict:
    """Type II sums of squares and degrees of freedom of y ~ C(method) * C(prior).

    y: (N,) or (B, N) for B outcomes on one design. Returns {terms, dropped, ss {term, seed,
    total}: arrays (B,), df {term, seed}}; the same SS as anova_lm(typ=2) (stats.anova_point)
    by projection, df as the rank each term adds. Terms are named as in stats.TERMS.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    method, prior = [str(m) for m in method], [str(p) for p in prior]
    terms, dropped = estimable_terms(method, prior)
    ss = type2_sums_of_squares(y, method, prior, terms)
    ss["total"] = np.sum((y - y.mean(axis=1, keepdims=True)) ** 2, axis=1)
    columns = {"algo": np.asarray(method), "prior": np.asarray(prior)}
    rank = lambda ts: int(np.linalg.matrix_rank(_design(ts, columns)))  # noqa: E731
    df = {}
    for term in terms:
        base = [u for u in terms if not TERMS[term] <= TERMS[u]]
        df[term] = rank([*base, term]) - rank(base)
    df["seed"] = y.shape[1] - rank(terms)
    return {"terms": terms, "dropped": dropped, "ss": ss, "df": df}


def omega2(anova: dict, *, clip: bool = True) -> dict:
    """{term: omega^2} from anova_ss: (SS_t - df_t MS_res) / (SS_total + MS_res) (Olejnik &
    Algina 2003), clipped at 0 unless clip=False; arrays (B,), None for an inestimable term
    or without residual df. Keys: "algo", "prior", "interaction"."""
    ss, df = anova["ss"], anova["df"]
    out = dict.fromkeys(TERMS)
    if df["seed"] <= 0:
        return out
    ms_res = ss["seed"] / df["seed"]
    with np.errstate(divide="ignore", invalid="ignore"):
        for term in anova["terms"]:
            w = (ss[term] - df[term] * ms_res) / (ss["total"] + ms_res)
            w = np.where(ss["total"] + ms_res > 0, w, np.nan)
            out[term] = np.maximum(w, 0.0) if clip else w
    return out


def _shares(y: np.ndarray, method: list[str], prior: list[str]) -> dict:
    """{method, prior, interaction}: clipped omega^2 of y (one value per run), float or None."""
    w = omega2(anova_ss(y, method, prior))
    out = {}
    for name, term in SHARE_TERMS.items():
        value = None if w[term] is None else float(w[term][0])
        out[name] = value if value is not None and math.isfinite(value) else None
    return out


# --- One family ---


def family(
    name: str,
    method: Sequence[str],
    prior: Sequence[str],
    seed: Sequence[int],
    gain: Sequence[float],
    level: Sequence[float],
    *,
    margin: float,
) -> dict:
    """The inference entry of one family from per-run values (one run per method, prior, seed):
    gain (mean over problems of final - initial pass@1) and level (mean final pass@1).

    Returns {family, methods, n_cells, sd_cells, mdd, gain, gain_by_prior, prior_level,
    omega2_gain, omega2_level, pairs, verdict}; see report/__init__.py.
    """
    method, prior = [str(m) for m in method], [str(p) for p in prior]
    gain, level = np.asarray(gain, dtype=float), np.asarray(level, dtype=float)
    by_key = {(m, p, int(s)): i for i, (m, p, s) in enumerate(zip(method, prior, seed))}
    methods = sorted(set(method))
    pairs = []
    for a, b in itertools.combinations(methods, 2):
        keys = sorted((p, s) for (m, p, s) in by_key if m == a and (b, p, s) in by_key)
        d = [gain[by_key[(a, *k)]] - gain[by_key[(b, *k)]] for k in keys]
        test = paired_t(d, margin=margin)
        pairs.append({"a": a, "b": b, "n_priors": len({p for p, _ in keys}), **test})
    for key in ("p_diff", "p_tost"):
        tested = [pair for pair in pairs if pair[key] is not None]
        adjusted = holm([pair[key] for pair in tested])
        for pair in pairs:
            pair[f"{key}_holm"] = adjusted.pop(0) if pair[key] is not None else None
    for pair in pairs:
        _settle(pair, margin=margin)
    pooled = [(pair["n_cells"] - 1, pair["sd"]) for pair in pairs if pair["sd"] is not None]
    dof = sum(k for k, _ in pooled)
    sd_cells = math.sqrt(sum(k * s**2 for k, s in pooled) / dof) if dof else None
    n_cells = min((pair["n_cells"] for pair in pairs), default=0)
    gains = {m: [(p, g) for m2, p, g in zip(method, prior, gain) if m2 == m] for m in methods}
    by_prior = {
        m: {
            p: float(np.mean([g for p2, g in rows if p2 == p]))
            for p in sorted({p for p, _ in rows})
        }
        for m, rows in gains.items()
    }
    out = {
        "family": name,
        "methods": methods,
        "n_cells": n_cells,
        "sd_cells": sd_cells,
        "mdd": mdd(sd_cells, n_cells),
        "gain": {m: t_interval([g for _, g in rows]) for m, rows in gains.items()},
        "gain_by_prior": by_prior,
        "prior_level": {  # the prior's own pass@1: final level minus gain
            p: float(np.mean((level - gain)[np.asarray(prior) == p])) for p in sorted(set(prior))
        },
        "omega2_gain": _shares(gain, method, prior),
        "omega2_level": _shares(level, method, prior),
        "pairs": [{k: v for k, v in pair.items() if k not in ("sd", "n_priors")} for pair in pairs],
    }
    return out | {"verdict": verdict(out, margin=margin)}


def _settle(pair: dict, *, margin: float) -> None:
    """Set the pair's outcome, sign and, when inconclusive, the cells and seeds to settle it."""
    pair |= {"outcome": "inconclusive", "sign": None}
    pair |= {"cells_to_settle": None, "seeds_per_prior_to_settle": None}
    if pair["p_tost_holm"] is not None and pair["p_tost_holm"] < ALPHA:
        pair["outcome"] = "equivalent"
    elif pair["p_diff_holm"] is not None and pair["p_diff_holm"] < ALPHA:
        pair["outcome"] = "different"
        a, b = pair["a"], pair["b"]
        pair["sign"] = f"{a} > {b}" if pair["diff"] > 0 else f"{a} < {b}"
    else:
        n = cells_to_settle(pair["diff"], pair["sd"], margin=margin)
        if n is not None:
            cells = max(2, math.ceil(n))
            pair["cells_to_settle"] = cells
            pair["seeds_per_prior_to_settle"] = math.ceil(cells / max(1, pair["n_priors"]))


def points(value: float) -> str:
    """A pass@1 difference in points, one decimal: 0.0412 -> "4.1"."""
    return f"{100 * value:.1f}"


def verdict(fam: dict, *, margin: float) -> str:
    """One line per family: what the pairs support, the gains, and the prior's share of the level.

    Equivalence is claimed only for pairs whose TOST is significant after Holm."""
    pairs, name = fam["pairs"], fam["family"]
    means = [g["mean"] for g in fam["gain"].values() if g["mean"] is not None]
    lo, hi = min(means), max(means)
    if points(lo) == points(hi):
        gain = f"gain {points(lo)} points"
    else:  # "4.1–5.0", but "-1.2 to 5.0": a dash after a minus sign misreads
        gain = f"gain {points(lo)}{' to ' if lo < 0 else '–'}{points(hi)} points"
    within = f"equivalent within ±{100 * margin:g} points"
    count = {o: sum(p["outcome"] == o for p in pairs) for o in OUTCOMES}
    if not pairs:
        head = f"{name}: one method ({fam['methods'][0]}), no pair to compare; {gain}"
    elif count["equivalent"] == len(pairs):
        what = "the one pair" if len(pairs) == 1 else f"all {len(pairs)} pairs"
        head = f"{name}: {what} {within} ({gain})"
    else:
        signs = [p["sign"] for p in pairs if p["sign"]]
        listed = f" ({', '.join(signs[:3])}{', ...' if len(signs) > 3 else ''})" if signs else ""
        noun = "pair" if count["different"] == 1 else "pairs"
        detect = (
            f"smallest detectable difference {points(fam['mdd'])} points"
            if fam["mdd"] is not None
            else "too few cells to estimate the noise"
        )
        head = (
            f"{name}: {count['different']} {noun} different{listed}, {count['equivalent']} "
            f"{within}, {count['inconclusive']} inconclusive ({detect}); {gain}"
        )
    share = fam["omega2_level"]["prior"]
    if share is None:
        return f"{head}; the prior's share of final pass@1 is not estimable"
    return f"{head}; the prior's level explains {round(100 * share)}% of final pass@1 (omega²)"


# --- From the sweep ---


def read_margin(sweep_dir: str | Path) -> float:
    """The sweep spec's "margin" (SWEEP/sweep.yaml), DEFAULT_MARGIN when absent."""
    path = Path(sweep_dir) / "sweep.yaml"
    if not path.is_file():
        return DEFAULT_MARGIN
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read the sweep's spec ({err})") from None
    margin = spec.get("margin", DEFAULT_MARGIN) if isinstance(spec, dict) else DEFAULT_MARGIN
    ok = isinstance(margin, (int, float)) and not isinstance(margin, bool) and 0 < margin < 1
    if not ok:
        raise DataError(f"{path}: `margin` must be a fraction of pass@1 in (0, 1), got {margin!r}")
    return float(margin)


def families(tables, *, margin: float, baseline: str = "sft") -> list[dict]:
    """family() for each level of the sweep (sorted), or one family "all" of every algorithm
    but the baseline for an unleveled sweep. tables: report.load.Tables."""
    runs = tables.runs
    gain_all = (tables.final["pass@1"] - tables.initial["pass@1"]).mean(axis=1)  # (R,)
    level_all = tables.final["pass@1"].mean(axis=1)
    names = sorted({name for run in runs for name in run.levels})
    groups = [
        (
            name,
            [(i, run.levels[name]["method"]) for i, run in enumerate(runs) if name in run.levels],
        )
        for name in names
    ] or [("all", [(i, run.algo) for i, run in enumerate(runs) if run.algo != baseline])]
    out = []
    for name, members in groups:
        if not members:
            continue
        idx = [i for i, _ in members]
        out.append(
            family(
                name,
                [m for _, m in members],
                [runs[i].prior for i in idx],
                [runs[i].seed for i in idx],
                gain_all[idx],
                level_all[idx],
                margin=margin,
            )
        )
    return out
