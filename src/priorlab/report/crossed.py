"""The standard error of a contrast measured on cells x problems, and what it takes to settle it.

Every run of a sweep is evaluated on the same test problems, so a difference between two
methods, D[c, q] for cell c (a prior and seed) and problem q, carries three kinds of noise:
the cell's (seed-to-seed training noise, u_c), the problem's (the method x problem
interaction, v_q: common to every cell, so invisible in the spread of the cell means) and
the residual sampling noise e_cq. With cells nested in priors (fixed strata, weighted
equally) the estimate is

    diff = mean_p mean_{c in p} mean_q D[p, c, q]

and, from the moments of the two-way crossed random-effects model (Searle, Casella &
McCulloch 1992, Variance Components, ch. 4; the mean squares of Cornfield & Tukey 1956):

    V_cells = sum_p s^2(row means of p) / (C_p P^2)        ~ sum_p sigma_u,p^2 / (C_p P^2) + V_e
    V_probs = s^2_q(y_q) / Q,  y_q = mean_p mean_c D[p,c,q] ~ Var(v) / Q + V_e
    V_e     = sum_p MS_resid,p / (C_p Q P^2)                ~ the residual's share of each
    Var(diff) = max(V_cells - V_e, 0) + max(V_probs - V_e, 0) + V_e

each component truncated at 0 (a negative moment estimate means that component is nil), with
Satterthwaite's (1946) degrees of freedom for the linear combination. With the problem
component nil this is the paired t-test across cells (stratified by prior); V_cells alone is
the variance "on these test problems" (problems fixed), reported beside it. A method-of-
moments estimator rather than a crossed bootstrap: the pigeonhole bootstrap (Owen 2007,
Ann. Appl. Stat. 1(1)) counts the residual about three times over, and MixedLM's REML
often fails to converge with 2-10 cells a stratum; the moments are exact and fast enough
for the calibration simulations (tests/report/test_calibration.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize
from scipy.special import chdtri, fdtrc, ndtr, stdtrit

POWER = 0.80
QUANTILES = 4000  # midpoints of the chi^2 integral in equivalence_power


def satterthwaite(terms: Sequence[tuple[float, float]]) -> float | None:
    """Degrees of freedom of sum_i sign_i a_i from (a_i, df_i): (sum a)^2 / sum a^2 / df_i
    (Satterthwaite 1946) over the terms' absolute values; None when undefined."""
    terms = [(a, df) for a, df in terms if a != 0]
    total = sum(a for a, _ in terms)
    denom = sum(a * a / df for a, df in terms if df and df > 0)
    if not terms or denom <= 0 or total <= 0:
        return None
    return float(total * total / denom)


def _cell_terms(strata: list[np.ndarray]) -> list[tuple[float, float]]:
    """(s^2 of p's row means / (C_p P^2), C_p - 1) per stratum; a one-cell stratum borrows the
    variance pooled over the others (it has none of its own)."""
    n_strata = len(strata)
    rows = [s.mean(axis=1) for s in strata]
    own = [(float(r.var(ddof=1)), len(r) - 1) for r in rows if len(r) > 1]
    if not own:
        return []
    dof = sum(k for _, k in own)
    pooled = sum(v * k for v, k in own) / dof
    terms = []
    for r in rows:
        var, k = (float(r.var(ddof=1)), len(r) - 1) if len(r) > 1 else (pooled, dof)
        terms.append((var / (len(r) * n_strata**2), k))
    return terms


def _residual_terms(strata: list[np.ndarray]) -> list[tuple[float, float]]:
    """(MS_resid,p / (C_p Q P^2), (C_p - 1)(Q - 1)) per stratum with two or more cells."""
    terms = []
    for s in strata:
        cells, problems = s.shape
        if cells < 2 or problems < 2:
            continue
        resid = s - s.mean(axis=1, keepdims=True) - s.mean(axis=0, keepdims=True) + s.mean()
        dof = (cells - 1) * (problems - 1)
        ms = float((resid**2).sum()) / dof
        terms.append((ms / (cells * problems * len(strata) ** 2), dof))
    return terms


def crossed(strata: Sequence[np.ndarray]) -> dict:
    """The stratified mean of D and its crossed standard error (module docstring).

    strata: one (C_p, Q) array per prior, the same Q problems in the same order. Returns
    {diff, n_cells, se, df, se_fixed, df_fixed, var_seeds, var_problems}: se, df with the
    problem component (problems random), se_fixed, df_fixed on these problems (cells only);
    var_seeds (shrinks as 1 / cells) and var_problems (does not) split se^2. se and the
    rest None when no stratum has two cells.
    """
    strata = [np.atleast_2d(np.asarray(s, dtype=float)) for s in strata]
    n_cells = sum(s.shape[0] for s in strata)
    out = {"diff": float(np.mean([s.mean() for s in strata])), "n_cells": n_cells}
    out |= dict.fromkeys(("se", "df", "se_fixed", "df_fixed", "var_seeds", "var_problems"))
    cells = _cell_terms(strata)
    if not cells:
        return out
    v_cells = sum(a for a, _ in cells)
    # zero spread in every stratum: the df do not matter (se = 0), the cells' count them
    df_cells = satterthwaite(cells) or float(sum(k for _, k in cells))
    resid = _residual_terms(strata)
    v_e, df_e = sum(a for a, _ in resid), satterthwaite(resid)
    problems = strata[0].shape[1]
    y = np.mean([s.mean(axis=0) for s in strata], axis=0)  # (Q,)
    v_probs = float(y.var(ddof=1)) / problems if problems > 1 else 0.0
    cell_part, prob_part = max(v_cells - v_e, 0.0), max(v_probs - v_e, 0.0)
    if cell_part > 0 and prob_part > 0:
        var = v_cells + v_probs - v_e
        df = satterthwaite([(v_cells, df_cells), (v_probs, problems - 1), (v_e, df_e)])
    elif prob_part > 0:
        var, df = v_probs, problems - 1
    else:  # the problem component is nil: the stratified paired t-test across cells
        var, df = v_cells, df_cells
    return out | {
        "se": math.sqrt(var),
        "df": df,
        "se_fixed": math.sqrt(v_cells),
        "df_fixed": df_cells,
        "var_seeds": var - prob_part,
        "var_problems": prob_part,
    }


def heterogeneity(strata: Sequence[np.ndarray]) -> dict | None:
    """Does the effect differ between priors? One-way ANOVA of the cell means on the prior:
    {F, df1, df2, p}; None with fewer than two strata or no within-stratum df."""
    rows = [np.asarray(s, dtype=float).mean(axis=1) for s in strata]
    df1, df2 = len(rows) - 1, sum(len(r) - 1 for r in rows)
    if df1 < 1 or df2 < 1:
        return None
    grand = np.concatenate(rows).mean()
    between = sum(len(r) * (r.mean() - grand) ** 2 for r in rows) / df1
    within = sum(float(((r - r.mean()) ** 2).sum()) for r in rows) / df2
    if within == 0:
        return {"F": None, "df1": df1, "df2": df2, "p": 0.0 if between > 0 else 1.0}
    f = float(between / within)
    return {"F": f, "df1": df1, "df2": df2, "p": float(fdtrc(df1, df2, f))}


# --- Power and what settles a pair ---


def equivalence_power(se: float, df: float, *, margin: float, alpha: float) -> float:
    """P(TOST at level alpha declares equivalence | true difference 0), se estimated with df.

    The diff is N(0, se^2) and the estimated se is se sqrt(X / df), X ~ chi^2_df; equivalence
    when |diff| + t_{1-alpha,df} se_hat < margin, so the power is
    E_X[2 Phi(m / se - t sqrt(X / df)) - 1]^+, integrated over X's quantiles (the midpoint
    rule on 4,000 probabilities: exact to ~1e-6 for any df, deterministic).
    """
    if se <= 0:
        return 1.0
    t = float(stdtrit(df, 1 - alpha))
    u = (np.arange(QUANTILES) + 0.5) / QUANTILES
    ratio = np.sqrt(chdtri(df, 1 - u) / df)  # se_hat / se at each quantile of chi^2_df
    inside = 2 * ndtr(margin / se - t * ratio) - 1
    return float(np.clip(inside, 0.0, None).mean())


def _tost_power(diff: float, se: float, *, margin: float, z: float) -> float:
    """Normal-approximation power of TOST (one-sided quantile z) at a true diff, known se."""
    lo, hi = -margin + z * se, margin - z * se
    return float(max(ndtr((hi - diff) / se) - ndtr((lo - diff) / se), 0.0))


def _difference_power(diff: float, se: float, *, z: float) -> float:
    """Normal-approximation power of the two-sided test (quantile z) with known se."""
    shift = abs(diff) / se
    return float(ndtr(shift - z) + ndtr(-shift - z))


def _se_for(power, goal: float = POWER) -> float | None:
    """The largest se at which power(se) reaches goal (power falls as se grows), or None."""
    if power(1e-9) < goal:
        return None
    hi = 1.0
    while power(hi) >= goal:
        hi *= 10
    return float(optimize.brentq(lambda s: power(s) - goal, 1e-9, hi, xtol=1e-12))


def cells_to_settle(
    estimate: dict, *, margin: float, alpha: float, n_tests: int, n_strata: int = 1
) -> dict | None:
    """The cells (over all priors) a pair needs to be settled with 80% power at the observed
    difference, by the cheaper of the two routes, at Holm's strictest step alpha / n_tests
    (Bonferroni's level: what suffices whatever the other pairs do).

    se^2 at C' cells = var_seeds C / C' + var_problems: more seeds do not shrink the problem
    component, so a route whose se target is below it is "unreachable" by seeds. The test's
    quantile is Student's t on C' - n_strata df (iterated to a fixed point), and the answer
    is at least one more cell per stratum than the pair has: it was not settled at C.
    Returns {route ("difference" or "equivalence"), cells, by {route: cells or None}} or None.
    """
    diff, n = estimate["diff"], estimate["n_cells"]
    if estimate["se"] is None or diff is None:
        return None
    step = alpha / n_tests
    powers = {  # route -> (df -> power(se)), for the routes this difference can take
        "difference": (lambda df: lambda s: _difference_power(diff, s, z=stdtrit(df, 1 - step / 2)))
        if diff != 0
        else None,
        "equivalence": (
            lambda df: lambda s: _tost_power(diff, s, margin=margin, z=stdtrit(df, 1 - step))
        )
        if abs(diff) < margin
        else None,
    }
    by = {}
    for route, power in powers.items():
        cells = None if power is None else n
        for _ in range(50 if power is not None else 0):
            se = _se_for(power(max(1.0, cells - n_strata)))
            room = None if se is None else se**2 - estimate["var_problems"]
            if room is None or room <= 0:
                cells = None
                break
            found = max(n + n_strata, math.ceil(estimate["var_seeds"] * n / room))
            if found == cells:
                break
            cells = found
        by[route] = cells
    found = {route: cells for route, cells in by.items() if cells is not None}
    if not found:
        return {"route": None, "cells": None, "by": by}
    route = min(found, key=lambda r: (found[r], r))
    return {"route": route, "cells": found[route], "by": by}
