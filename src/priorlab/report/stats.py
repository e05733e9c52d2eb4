"""Statistics primitives of the report: pure functions of arrays.

Hierarchical bootstrap over seeds and problems, two-sided bootstrap p-values, Holm's
correction, a two-way ANOVA share of variance, the entropy-reward fit of Cui et al. 2025 and
the pass@k crossover of Yue et al. 2025.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# --- Hierarchical bootstrap ---


def resample_weights(
    strata: Sequence, n_problems: int, *, rng: np.random.Generator, n_boot: int
) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicities of a two-level bootstrap: rows (seeds) within strata, then problems.

    Each draw resamples the rows of every stratum with replacement (strata in sorted order),
    then the problems with replacement, shared by all rows (every run sees the same test set).
    Returns (w_rows (n_boot, R), w_problems (n_boot, P)); each row sums to R resp. P.
    """
    strata = np.asarray(strata)
    w_rows = np.zeros((n_boot, len(strata)))
    for label in sorted(set(strata.tolist())):
        members = np.flatnonzero(strata == label)
        uniform = np.full(len(members), 1.0 / len(members))
        w_rows[:, members] = rng.multinomial(len(members), uniform, size=n_boot)
    uniform = np.full(n_problems, 1.0 / n_problems)
    w_problems = rng.multinomial(n_problems, uniform, size=n_boot).astype(float)
    return w_rows, w_problems


def boot_means(values: np.ndarray, w_rows: np.ndarray, w_problems: np.ndarray) -> np.ndarray:
    """Mean of values (R, P) under each draw's multiplicities: sum_rp w_r w_p v_rp / (R P).

    Shapes: w_rows (B, R), w_problems (B, P); returns (B,).
    """
    n_rows, n_problems = values.shape
    return np.einsum("br,rp,bp->b", w_rows, values, w_problems) / (n_rows * n_problems)


def percentile_ci(draws: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval (lo, hi) of the draws, ignoring NaN draws."""
    tail = 100 * (1 - level) / 2
    lo, hi = np.nanpercentile(draws, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_p(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "the statistic is 0": 2 min(P(d <= 0), P(d >= 0)).

    Each tail is (1 + #draws in it) / (1 + B), so p is never 0; capped at 1.
    """
    n = len(draws)
    below = (1 + np.sum(draws <= 0)) / (1 + n)
    above = (1 + np.sum(draws >= 0)) / (1 + n)
    return float(min(1.0, 2 * min(below, above)))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values, in the input order: the i-th smallest of m is
    multiplied by m - i + 1, then made monotone and capped at 1 (the same values as
    statsmodels' multipletests(method="holm"), tests/report/test_stats.py; by hand because
    the calibration simulations call it thousands of times)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(scaled, 1.0)
    return [float(v) for v in out]


# --- Two-way ANOVA share of variance ---

TERMS = {
    "algo": frozenset({"algo"}),
    "prior": frozenset({"prior"}),
    "interaction": frozenset({"algo", "prior"}),
}


def estimable_terms(algo: Sequence[str], prior: Sequence[str]) -> tuple[list[str], dict]:
    """Terms of y ~ C(algo) * C(prior) the design can estimate, and {dropped term: reason}."""
    n_algo, n_prior = len(set(algo)), len(set(prior))
    n_cells = len(set(zip(algo, prior)))
    dropped = {}
    if n_algo < 2:
        dropped["algo"] = "a single algorithm"
    if n_prior < 2:
        dropped["prior"] = "a single prior"
    if dropped:
        dropped["interaction"] = "needs two algorithms and two priors"
    elif n_cells < n_algo * n_prior:
        dropped["interaction"] = "not every algorithm x prior cell has runs"
    elif len(algo) <= n_cells:
        dropped["interaction"] = "one seed per cell: interaction is confounded with seed"
    return [t for t in TERMS if t not in dropped], dropped


def _design(terms: list[str], columns: dict[str, np.ndarray]) -> np.ndarray:
    """Intercept plus drop-first dummies of each term (products for the interaction): (N, p)."""
    n = len(next(iter(columns.values())))
    blocks = [np.ones((n, 1))]
    dummies = {}
    for factor, labels in columns.items():
        levels = sorted(set(labels.tolist()))
        dummies[factor] = (labels[:, None] == np.array(levels[1:])[None, :]).astype(float)
    for term in terms:
        block = np.ones((n, 1))
        for factor in sorted(TERMS[term]):
            block = (block[:, :, None] * dummies[factor][:, None, :]).reshape(n, -1)
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


def _rss(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residual sum of squares of least squares on `design` (N, p), for each row of y (B, N)."""
    residual_maker = np.eye(len(design)) - design @ np.linalg.pinv(design)  # (N, N)
    return np.sum((y @ residual_maker.T) ** 2, axis=1)


def type2_sums_of_squares(
    y: np.ndarray, algo: Sequence[str], prior: Sequence[str], terms: list[str]
) -> dict[str, np.ndarray]:
    """Type II sums of squares of y (B, N) for each term, and "seed" (the residual).

    SS(t) = RSS(terms not containing t) - RSS(those + t), as anova_lm(typ=2) computes it;
    here by projection so that many resampled y share one design. Returns arrays (B,).
    """
    columns = {"algo": np.asarray(algo), "prior": np.asarray(prior)}
    out = {}
    for term in terms:
        base = [u for u in terms if not TERMS[term] <= TERMS[u]]
        out[term] = _rss(_design(base, columns), y) - _rss(_design([*base, term], columns), y)
    out["seed"] = _rss(_design(terms, columns), y)
    return out


def anova_ss(y: np.ndarray, algo: Sequence[str], prior: Sequence[str]) -> dict:
    """Type II sums of squares and degrees of freedom of y ~ C(algo) * C(prior): the one
    ANOVA of the report.

    y: (N,) or (B, N) for B outcomes on one design. Returns {terms, dropped, ss {term, seed,
    total}: arrays (B,), df {term, seed}}: the SS of statsmodels' anova_lm(typ=2) (tested
    against it), by projection so that many outcomes share one design; df is the rank each
    term adds. Terms are named as in TERMS.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    algo, prior = [str(a) for a in algo], [str(p) for p in prior]
    terms, dropped = estimable_terms(algo, prior)
    ss = type2_sums_of_squares(y, algo, prior, terms)
    ss["total"] = np.sum((y - y.mean(axis=1, keepdims=True)) ** 2, axis=1)
    columns = {"algo": np.asarray(algo), "prior": np.asarray(prior)}
    rank = lambda ts: int(np.linalg.matrix_rank(_design(ts, columns)))  # noqa: E731
    df = {}
    for term in terms:
        base = [u for u in terms if not TERMS[term] <= TERMS[u]]
        df[term] = rank([*base, term]) - rank(base)
    df["seed"] = y.shape[1] - rank(terms)
    return {"terms": terms, "dropped": dropped, "ss": ss, "df": df}


def partial_omega2(anova: dict, *, clip: bool = True) -> dict:
    """{term: partial omega^2} from anova_ss: (SS_t - df_t MS_res) / (SS_t + (N - df_t)
    MS_res) (Olejnik & Algina 2003, Psychological Methods 8(4)); with every factor
    manipulated it is also their generalized omega^2. Clipped at 0 unless clip=False; arrays
    (B,), None for an inestimable term or without residual df. Keys as TERMS."""
    ss, df = anova["ss"], anova["df"]
    out = dict.fromkeys(TERMS)
    if df["seed"] <= 0:
        return out
    ms_res = ss["seed"] / df["seed"]
    n = df["seed"] + sum(df[t] for t in anova["terms"]) + 1  # runs: residual + model df + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        for term in anova["terms"]:
            denom = ss[term] + (n - df[term]) * ms_res
            w = np.where(denom > 0, (ss[term] - df[term] * ms_res) / denom, np.nan)
            out[term] = np.maximum(w, 0.0) if clip else w
    return out


def anova_point(y: Sequence[float], algo: Sequence[str], prior: Sequence[str]) -> dict:
    """anova_ss of one outcome as plain numbers: {n_runs, terms, dropped, sum_sq, df, shares},
    each share SS_t / SS_total (eta^2, the legacy share; None when the term is inestimable
    or y is constant)."""
    table = anova_ss(y, algo, prior)
    ss = {t: max(0.0, float(v[0])) for t, v in table["ss"].items()}
    total = ss["total"]
    shares = {t: ss[t] / total if t in ss and total > 0 else None for t in [*TERMS, "seed"]}
    return {
        "n_runs": len(np.asarray(y)),
        "terms": table["terms"],
        "dropped": table["dropped"],
        "sum_sq": ss,
        "df": table["df"],
        "shares": shares,
    }


def anova_shares(
    y: Sequence[float],
    algo: Sequence[str],
    prior: Sequence[str],
    *,
    rng: np.random.Generator,
    n_boot: int,
) -> dict:
    """Share of the variance of y (one value per run) due to algo, prior, their interaction, seed.

    share(t) = SS_t / SS_total with the Type II SS of y ~ C(algo) * C(prior) (anova_ss;
    inestimable terms dropped, share None) and SS_total = sum (y - mean y)^2;
    "seed" is the residual.

    CI: 95% percentile bootstrap, model-based with modified residuals (Davison & Hinkley
    1997, Bootstrap Methods and their Application, Alg. 6.1): y* = cell mean + r*, r* drawn
    from the pooled, centred residuals e_i / sqrt(1 - 1/n_cell) of every cell with >= 2
    runs. Resampling runs within each cell instead is degenerate with 2 seeds per cell: half
    the draws repeat one run, the cell's residual vanishes, and the seed share's upper bound
    equals its estimate in a third of null sweeps. The percentile interval of a ratio of
    sums of squares stays biased: on null sweeps of 2 seeds per cell the estimate falls
    outside it about one time in ten (tests/report/test_stats.py); hence a secondary table.
    """
    y = np.asarray(y, dtype=float)
    algo, prior = [str(a) for a in algo], [str(p) for p in prior]
    point = anova_point(y, algo, prior)
    terms = point["terms"]
    y_boot = _residual_bootstrap(y, [f"{a}\x00{p}" for a, p in zip(algo, prior)], rng, n_boot)
    ss_boot = type2_sums_of_squares(y_boot, algo, prior, terms)
    total_boot = np.sum((y_boot - y_boot.mean(axis=1, keepdims=True)) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = {}
        for term, share in point["shares"].items():
            if share is None:
                shares[term] = None
                continue
            lo, hi = percentile_ci(np.where(total_boot > 0, ss_boot[term] / total_boot, np.nan))
            shares[term] = {"share": share, "lo": lo, "hi": hi}
    return point | {"shares": shares}


def _residual_bootstrap(
    y: np.ndarray, cells: list[str], rng: np.random.Generator, n_boot: int
) -> np.ndarray:
    """(n_boot, N) resampled responses: each run's cell mean plus a modified residual drawn
    from the pool (see anova_shares); y itself repeated when no cell has 2 runs."""
    cells = np.array(cells)
    fitted, pool = np.empty_like(y), []
    for cell in sorted(set(cells.tolist())):
        members = np.flatnonzero(cells == cell)
        fitted[members] = y[members].mean()
        if len(members) > 1:
            resid = y[members] - fitted[members]
            pool.append(resid / np.sqrt(1 - 1 / len(members)))
    if not pool:
        return np.broadcast_to(y, (n_boot, len(y))).copy()
    pool = np.concatenate(pool)
    pool = pool - pool.mean()
    return fitted + pool[rng.integers(0, len(pool), (n_boot, len(y)))]


# --- Entropy-reward fit and pass@k crossover ---


def fit_entropy_reward(entropy: Sequence[float], reward: Sequence[float]) -> dict:
    """Least-squares fit of R = -a exp(H) + b (Cui et al. 2025, arXiv 2505.22617).

    Linear in (a, b): regress R on exp(H). Shapes: entropy, reward (n,). Returns a, b, r2
    (None when R is constant), n_points and the ceiling b - a (the reward at H = 0).
    """
    h, r = np.asarray(entropy, dtype=float), np.asarray(reward, dtype=float)
    design = np.stack([np.exp(h), np.ones_like(h)], axis=1)  # (n, 2)
    (slope, intercept), *_ = np.linalg.lstsq(design, r, rcond=None)
    residual = float(np.sum((r - design @ np.array([slope, intercept])) ** 2))
    total = float(np.sum((r - r.mean()) ** 2))
    a, b = -float(slope), float(intercept)
    r2 = 1 - residual / total if total > 0 else None
    return {"a": a, "b": b, "r2": r2, "n_points": len(r), "ceiling": b - a}


def crossover_k(ks: Sequence[int], prior: Sequence[float], policy: Sequence[float]) -> int | None:
    """Smallest k with prior pass@k >= policy pass@k (Yue et al. 2025, arXiv 2504.13837).

    Curves are aligned with ks; ties within 1e-12 count as reached. None if never.
    """
    for k, p, q in zip(ks, prior, policy, strict=True):
        if p >= q - 1e-12:
            return int(k)
    return None
