"""Where each method ends and how fast it gets there: the ceiling and efficiency verdicts.

Per final run: priorlab.ceiling.fit_curve of its dev curve (A, B, C_mid, C_90 with profile
intervals, or the reason it has none) and the extrapolation check (the first half of the
budget fitted, the second half predicted).

Per family (the sweep's levels, as in inference; "all" but the baseline for an unleveled
sweep), two verdicts on the same statistics as the pass@1 verdict (inference.assess: TOST
against a margin and the difference test; Holm over the family; power and MDD):
- ceiling: A per run (status "fit"). Runs the fit refuses (collapse, misfit, flat, before
  the midpoint, too few points) are left out and counted.
- efficiency: log C_90, completions to 90% of the run's own gain (runs with status "fit" and
  a closed C_90 interval). A difference of d in log is a factor e^d in completions.
A pair is compared per prior on the priors where both methods have >= 2 such runs: diff_p =
mean_a - mean_b, var_p = v_a / n_a + v_b / n_b with v the seeds' sample variance, floored at
the mean of the runs' own fit variances ((95% interval width / 3.92)^2: with few seeds a
lucky small spread must not read as certainty). Priors are fixed strata of equal weight:
diff = mean_p diff_p, se^2 = sum_p var_p / P^2, Welch-Satterthwaite df.

Margins: CEILING_MARGIN (3 points of dev pass@1: ScaleRL's A varied by about +-2 points
across three seeds) and EFFICIENCY_FACTOR (equivalent within a factor 1.5 in completions).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np

from priorlab.ceiling import Z95, extrapolation, fit_curve
from priorlab.report.diagnostics import dev_points
from priorlab.report.inference import assess, decide, power
from priorlab.report.load import STAGES
from priorlab.report.sections import prior_runs
from priorlab.samples import load_samples

CEILING_MARGIN = 0.03
EFFICIENCY_FACTOR = 1.5
QUANTITIES = {  # quantity -> (run field, its interval, transform, margin)
    "ceiling": ("a", "a_ci", lambda v: v, CEILING_MARGIN),
    "efficiency": ("c90", "c90_ci", math.log, math.log(EFFICIENCY_FACTOR)),
}
FIT_KEYS = ("status", "reason", "r0", "a", "a_ci", "b", "b_ci", "c_mid", "c_mid_ci", "c90",
            "c90_ci", "ratio")  # fmt: skip


def run_fits(runs, summaries: dict[str, dict], *, baseline: str = "sft") -> list[dict]:
    """Per final run (the baseline's too): its identity, method per level, fit and
    extrapolation check {status, mean_abs_error, coverage, points}."""
    out = []
    for run in runs:
        points = dev_points(summaries[run.run_id])
        fit = fit_curve(points)
        check = extrapolation(points)
        methods = {name: level["method"] for name, level in run.levels.items()}
        if not methods and run.algo != baseline:
            methods = {"all": run.algo}
        row = run.cell() | {"reward": run.reward, "methods": methods}
        check = {k: check[k] for k in ("status", "mean_abs_error", "coverage", "points")}
        out.append(row | {k: fit[k] for k in FIT_KEYS} | {"extrapolation": check})
    return out


def _value(row: dict, quantity: str) -> tuple[float, float] | None:
    """(value, fit variance) of a run on the quantity's scale, or None if it has none."""
    key, ci_key, transform, _ = QUANTITIES[quantity]
    value, ci = row[key], row[ci_key]
    if value is None or ci is None or None in ci or (quantity == "efficiency" and ci[0] <= 0):
        return None
    lo, hi = transform(ci[0]), transform(ci[1])
    return transform(value), ((hi - lo) / (2 * Z95)) ** 2


def _cell(values: list[tuple[float, float]]) -> tuple[float, float, int]:
    """(mean, variance of the mean, n) of a cell's runs: max(seed var, mean fit var) / n."""
    v = np.array([x for x, _ in values])
    spread = float(v.var(ddof=1)) if len(v) > 1 else math.inf
    return float(v.mean()), max(spread, float(np.mean([f for _, f in values]))) / len(v), len(v)


def _pair(a: str, b: str, cells: dict, margin: float) -> dict | None:
    """One pair's estimate and tests (before Holm), pooled over the priors both can use."""
    priors = [p for p in sorted({p for m, p in cells}) if
              len(cells.get((a, p), [])) >= 2 and len(cells.get((b, p), [])) >= 2]  # fmt: skip
    if not priors:
        return None
    by_prior, terms, df_den, n_cells = {}, [], 0.0, 0
    for p in priors:
        (ma, va, na), (mb, vb, nb) = _cell(cells[(a, p)]), _cell(cells[(b, p)])
        half = Z95 * math.sqrt(va + vb)
        by_prior[p] = {"diff": ma - mb, "lo": ma - mb - half, "hi": ma - mb + half}
        terms.append(va + vb)
        df_den += va**2 / (na - 1) + vb**2 / (nb - 1)
        n_cells += min(na, nb)
    diff = float(np.mean([by_prior[p]["diff"] for p in priors]))
    se = math.sqrt(sum(terms)) / len(priors)
    df = sum(terms) ** 2 / df_den if df_den > 0 else 1e6  # every cell at its fit-variance floor
    estimate = {"diff": diff, "se": se, "df": df, "n_cells": n_cells}
    tests = assess(estimate | {"se_fixed": None, "df_fixed": None}, margin=margin)
    extra = {"var_seeds": se**2, "var_problems": 0.0, "by_prior": by_prior}
    return {"a": a, "b": b, "n_priors": len(priors), **tests, **extra}


def family(name: str, rows: list[dict], quantity: str) -> dict:
    """One family's verdict on `quantity` from run_fits rows (those with a method in it)."""
    margin = QUANTITIES[quantity][3]
    cells: dict[tuple[str, str], list] = defaultdict(list)
    refused: dict[str, int] = defaultdict(int)
    members = [row for row in rows if name in row["methods"]]
    for row in members:
        method, found = row["methods"][name], _value(row, quantity)
        if found is None:
            refused[method] += 1
        else:
            cells[(method, row["prior"])].append(found)
    methods = sorted({row["methods"][name] for row in members})
    pairs = [p for a, b in itertools.combinations(methods, 2) if (p := _pair(a, b, cells, margin))]
    decide(pairs, margin=margin)
    summary = {  # a cell's se needs 2 runs
        f"{m}|{p}": {"n": n, "mean": mean, "se": math.sqrt(var) if n > 1 else None}
        for (m, p), values in sorted(cells.items())
        for mean, var, n in [_cell(values)]
    }
    out = {"family": name, "quantity": quantity, "margin": margin, "methods": methods}
    out |= {"runs": len(members), "refused": dict(sorted(refused.items())), "cells": summary}
    out |= {"pairs": pairs, "power": power(pairs, margin=margin)}
    return out | {"verdict": verdict(out)}


def verdict(fam: dict) -> str:
    """One clause: 'ceiling: 2 pairs equivalent within ±3.0 points, grpo > ei [lo, hi]'."""
    quantity, pairs = fam["quantity"], fam["pairs"]
    fitted = fam["runs"] - sum(fam["refused"].values())
    if not pairs:
        return f"{quantity}: not testable ({fitted} of {fam['runs']} runs have one, and no " \
            "pair has 2 per prior)"  # fmt: skip
    if quantity == "ceiling":
        within = f"within ±{100 * fam['margin']:.1f} points of A"
    else:
        within = f"within a factor {math.exp(fam['margin']):.2g} in completions to 90% of gain"
    parts = []
    equivalent = sum(p["outcome"] == "equivalent" for p in pairs)
    if equivalent:
        parts.append(f"{equivalent} of {len(pairs)} pairs equivalent {within}")
    for p in pairs:
        if p["outcome"] == "different":
            parts.append(_difference(p, quantity))
    inconclusive = sum(p["outcome"] == "inconclusive" for p in pairs)
    if inconclusive:
        parts.append(f"{inconclusive} inconclusive")
    powered = fam["power"] and fam["power"]["powered"]
    tag = "" if powered else " (underpowered: exploratory)"
    return f"{quantity}: " + ", ".join(parts) + tag


def _difference(pair: dict, quantity: str) -> str:
    """'grpo > ei by 4.1 points [1.2, 7.0]' or 'grpo reaches 90% of its gain in 2.1x fewer
    completions than ei [1.3, 3.4]'."""
    a, b, d, lo, hi = pair["a"], pair["b"], pair["diff"], pair["lo"], pair["hi"]
    if quantity == "ceiling":
        first, second = (a, b) if d > 0 else (b, a)
        lo, hi = sorted((abs(lo), abs(hi))) if d > 0 else sorted((-hi, -lo))
        return f"{first} > {second} by {100 * abs(d):.1f} points of A [{100 * lo:.1f}, " \
            f"{100 * hi:.1f}]"  # fmt: skip
    faster, slower = (b, a) if d > 0 else (a, b)  # a smaller log C_90 is faster
    lo, hi = sorted((math.exp(abs(lo)), math.exp(abs(hi)))) if lo * hi > 0 else (1.0, 1.0)
    return f"{faster} reaches 90% of its gain in {math.exp(abs(d)):.1f}x fewer completions " \
        f"than {slower} [{lo:.1f}, {hi:.1f}]"  # fmt: skip


def _sampled(run, stage: str):
    """The run's sampled (not greedy) rows of its `stage` table."""
    table = load_samples(run.path / STAGES[stage])
    return table[~table["greedy"].fillna(False).astype(bool)] if "greedy" in table else table


def _covered(table, column: str) -> float | None:
    """Share of problems with at least one sample true in `column` (None if not measured)."""
    if column not in table or table[column].isna().all():
        return None
    return float(table.groupby("problem_id")[column].apply(lambda v: v.fillna(False).any()).mean())


def guessed(table, k: int) -> float | None:
    """guess@k: the share of problems a guesser would cover in k answers drawn from the
    answers the policy gave to the OTHER problems (it reads no question): per problem
    1 - (1 - q)^k, q the share of other problems' samples whose answer is its gold answer.
    pass@k above it is coverage earned by reading the problem; None without a gold column
    (tables written before it) or with fewer than two problems."""
    if "gold" not in table or table["problem_id"].nunique() < 2:
        return None
    answers = table["answer"].fillna("").astype(str)
    counts = answers.value_counts()
    per_problem = table.assign(answer=answers).groupby("problem_id")
    out = []
    for _, rows in per_problem:
        gold = str(rows["gold"].iloc[0])
        own = int((rows["answer"] == gold).sum())
        q = (counts.get(gold, 0) - own) / (len(table) - len(rows))
        out.append(1 - (1 - q) ** k)
    return float(np.mean(out))


def prior_coverage(runs) -> dict[str, dict]:
    """{prior: {k, pass@k, whole@k, guess@k, pass@1}} on the test problems, mean over the
    prior's seeds: the share of problems the prior solves in k samples (k = samples per
    problem), counted on the final answer and on whole solutions (every step right: what a
    guessed answer cannot inflate; None where the task cannot tell), beside the guessing
    baseline guess@k (what answering without reading the question covers)."""
    out = {}
    for prior, indices in prior_runs(runs).items():
        tables = [_sampled(runs[i], "initial") for i in indices]
        pass_k = [_covered(t, "correct") for t in tables]
        whole = [_covered(t, "whole") for t in tables]
        k = int(tables[0].groupby("problem_id").size().min())
        guess = [guessed(t, k) for t in tables]
        out[prior] = {
            "k": k,
            "pass@k": float(np.mean(pass_k)),
            "whole@k": None if None in whole else float(np.mean(whole)),
            "guess@k": None if None in guess else float(np.mean(guess)),
            "pass@1": float(np.mean([t["correct"].mean() for t in tables])),
        }
    return out


def beside_prior(runs, rows: list[dict], coverage: dict[str, dict]) -> list[dict]:
    """Per (algo, prior): the runs' mean A (fitted runs), the prior's coverage, and Yue et
    al.'s gap pass@k(prior) - pass@1(run) at the end of training, mean over its runs."""
    fits = {row["run_id"]: row for row in rows}
    groups = defaultdict(list)
    for run in runs:
        groups[(run.algo, run.prior)].append(run)
    out = []
    for (algo, prior), group in sorted(groups.items()):
        a = [fits[r.run_id]["a"] for r in group if fits[r.run_id]["a"] is not None]
        final = float(np.mean([_sampled(r, "final")["correct"].mean() for r in group]))
        cover = coverage[prior]
        out.append({"algo": algo, "prior": prior, "runs": len(group), "fitted": len(a),
                    "a": float(np.mean(a)) if a else None, "final_pass@1": final,
                    **{key: cover.get(key) for key in ("k", "pass@k", "whole@k", "guess@k")},
                    "gap": cover["pass@k"] - final})  # fmt: skip
    return out


def ceiling(runs, summaries: dict[str, dict], *, baseline: str = "sft") -> dict:
    """report.json's "ceiling": {runs: run_fits, families: [{family, ceiling, efficiency,
    line}], extrapolation: {runs checked, mean_abs_error, coverage}, priors: prior_coverage,
    beside_prior}."""
    rows = run_fits(runs, summaries, baseline=baseline)
    names = sorted({name for row in rows for name in row["methods"]})
    families = []
    for name in names:
        ceiling_fam, efficiency_fam = (
            family(name, rows, "ceiling"),
            family(name, rows, "efficiency"),
        )
        line = f"{name} — {ceiling_fam['verdict']}; {efficiency_fam['verdict']}"
        families.append({"family": name, "ceiling": ceiling_fam, "efficiency": efficiency_fam,
                         "line": line})  # fmt: skip
    checked = [row["extrapolation"] for row in rows if row["extrapolation"]["points"]]
    summary = {"runs": len(checked), "mean_abs_error": None, "coverage": None}
    if checked:
        summary["mean_abs_error"] = float(np.mean([c["mean_abs_error"] for c in checked]))
        summary["coverage"] = float(np.mean([c["coverage"] for c in checked]))
    coverage = prior_coverage(runs)
    out = {"runs": rows, "families": families, "extrapolation": summary, "priors": coverage}
    return out | {"beside_prior": beside_prior(runs, rows, coverage)}


def tables(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """The per-run fit table for report.md / report.html."""
    block = report.get("ceiling")
    if not block or not block["runs"]:
        return []

    def span(ci, scale=1.0, fmt="{:.1f}"):
        if ci is None:
            return ""
        ends = ["open" if v is None else fmt.format(v * scale) for v in ci]
        return f"[{ends[0]}, {ends[1]}]"

    table = []
    for row in block["runs"]:
        check = row["extrapolation"]
        a = "" if row["a"] is None else f"{100 * row['a']:.1f} {span(row['a_ci'], 100)}"
        c90 = "" if row["c90"] is None else f"{row['c90']:.0f} {span(row['c90_ci'], fmt='{:.0f}')}"
        b = "" if row["b"] is None else f"{row['b']:.2f} {span(row['b_ci'], fmt='{:.2f}')}"
        predicted = "" if check["coverage"] is None else (
            f"{100 * check['mean_abs_error']:.1f} / {100 * check['coverage']:.0f}%")  # fmt: skip
        status = row["status"] + (f" ({row['reason']})" if row["reason"] else "")
        table.append([row["run_id"], row["algo"], row["prior"], str(row["seed"]), status, a,
                      b, c90, predicted])  # fmt: skip
    title = (
        "Ceiling fits (ScaleRL: R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B) on each run's dev "
        "curve; A in points [95% profile CI], C_90 the completions to 90% of its gain; "
        "second half predicted from the first: mean |error| in points / points inside the CI)"
    )
    header = ["run", "algo", "prior", "seed", "fit", "A", "B", "C_90", "predicted 2nd half"]
    return [(title, header, table), _beside_table(block)]


def _beside_table(block: dict) -> tuple[str, list[str], list[list[str]]]:
    """A per method and prior beside the prior's coverage and the pass@k - pass@1 gap."""

    def points(value):
        return "" if value is None else f"{100 * value:.1f}"

    rows = [[r["algo"], r["prior"], f"{r['fitted']} / {r['runs']}", points(r["a"]),
             points(r["whole@k"]), points(r["pass@k"]), points(r.get("guess@k")),
             str(r["k"]), points(r["final_pass@1"]), points(r["gap"])]
            for r in block["beside_prior"]]  # fmt: skip
    title = (
        "The ceiling beside the prior's: mean A of the fitted runs (dev pass@1), the prior's "
        "coverage on the test problems at k samples (whole solutions: every step right; "
        "any right answer; a guesser's: k answers drawn from those the prior gave to the other "
        "problems), the runs' final test pass@1 and the gap pass@k(prior) - pass@1 (Yue et al. "
        "2025), in points"
    )
    header = ["algo", "prior", "fitted / runs", "A", "prior whole@k", "prior pass@k",
              "guess@k", "k", "final pass@1", "gap"]  # fmt: skip
    return title, header, rows
