"""Selection or discovery: each run's empirical support against its prior's (issue 26).

Wu et al. 2025 ("The Invisible Leash", arXiv 2507.14843) count, at a sampling budget k,
the test problems solved by both the prior and the run (P, preserved), by the run only (E,
expansion) and by the prior only (S, shrinkage): SRR = P / (P + S), NDR = E / (P + E),
NSCR = (E - S) / (P + E + S). Here a problem is solved at k with probability pass@k, the
unbiased estimate from its n samples (Chen et al. 2021; at k = n: some sample is right),
prior and run independently: P = sum a_i b_i, E = sum (1 - a_i) b_i, S = sum a_i (1 - b_i),
a_i the prior's pass@k on problem i and b_i the run's. A sample counts when its whole
solution is right where the task checks steps (column `whole`), else when its answer is
(guess@k in the ceiling block says how much guessing covers).

Per run: the counts and ratios at every k of 1, 2, 4 ... n, Yue et al.'s gap pass@n(prior)
- pass@1(run), the crossover k (the smallest k at which the prior's pass@k reaches the
run's; None within n), and the newly solved problems (0 of n prior samples right, some of
the run's). Per algorithm x prior: each ratio at k = n averaged over the cell's runs, with a
95% percentile interval from a bootstrap over problems (its own generator: the report's
other draws are unchanged).
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict

import numpy as np
import pandas as pd

from priorlab.errors import DataError
from priorlab.metrics import ks_for, pass_at_k
from priorlab.report.ceiling import _sampled
from priorlab.samples import load_samples

RATIOS = ("SRR", "NDR", "NSCR", "new")  # new: E / N, the share of problems newly solved
DISCOVERY_MARGIN = 0.03  # NDR within this of 0: discovery ruled out
CONTROL = "sft"  # trained on gold solutions: must show discovery where the prior lacks it


def counts(a: np.ndarray, b: np.ndarray) -> dict:
    """P, E, S and the three ratios from per-problem solve probabilities (prior a, run b);
    a ratio is None when its denominator is 0."""
    p, e, s = float(a @ b), float((1 - a) @ b), float(a @ (1 - b))

    def ratio(num, den):
        return num / den if den > 0 else None

    return {"P": p, "E": e, "S": s, "SRR": ratio(p, p + s), "NDR": ratio(e, p + e),
            "NSCR": ratio(e - s, p + e + s), "new": ratio(e, len(a))}  # fmt: skip


def solved(per_problem: np.ndarray, n: int, k: int) -> np.ndarray:
    """pass@k of each problem from its count of right samples out of n."""
    return np.array([pass_at_k(n, int(c), k) for c in per_problem])


def _is_right(table) -> pd.Series:
    """Per sample: right on the whole solution when the task checks it, else on the answer."""
    column = "whole" if "whole" in table and table["whole"].notna().any() else "correct"
    return table[column].fillna(False).astype(bool)


def _right(table) -> tuple[list[str], np.ndarray, int]:
    """(problem ids, right samples per problem, n), each sample judged by _is_right."""
    grouped = _is_right(table).groupby(table["problem_id"])
    return list(grouped.sum().index), grouped.sum().to_numpy(), int(grouped.size().min())


def run_support(run) -> dict:
    """One run against its prior (the run's own initial table): per k, the ratios; gap,
    crossover and the newly solved problems."""
    ids, prior, n = _right(_sampled(run, "initial"))
    final = _sampled(run, "final")
    final_ids, after, n_final = _right(final)
    if final_ids != ids:
        raise DataError(f"{run.path}: samples_initial and samples_final hold other problems")
    row = {**run.cell(), **against_prior(ids, prior, after, min(n, n_final))}
    _show(row["newly"], final)
    wide = run.path / "samples_support.parquet"  # the prior at a larger k (support_samples)
    if wide.is_file():
        wide_ids, wide_prior, n_wide = _right(load_samples(wide))  # all sampled: no greedy row
        if wide_ids != ids:
            raise DataError(f"{wide}: holds other problems than samples_initial")
        row["_wide"] = solved(wide_prior, n_wide, n_wide)
        at = dict(zip(wide_ids, wide_prior))
        for item in row["newly"]:
            item |= {"prior_wide": int(at[item["problem_id"]]), "n_wide": n_wide}
        row["wide"] = {"k": n_wide, **counts(row["_wide"], row["_b"])}
    return row


def _show(newly: list[dict], final) -> None:
    """Each newly solved problem's gold answer and one of the run's right completions (where
    the table holds those columns)."""
    by_id = final[_is_right(final)].drop_duplicates("problem_id").set_index("problem_id")
    for item in newly:
        for key, name in (("gold", "gold"), ("example", "completion")):
            if name in by_id:
                item[key] = str(by_id.at[item["problem_id"], name])


def against_prior(ids: list, prior: np.ndarray, after: np.ndarray, n: int) -> dict:
    """A run's support against its prior's from the right samples per problem (out of n)
    before and after: per k the counts and ratios, the crossover k, the gap, the newly
    solved problems, and (_a, _b) each problem's pass@n for the bootstrap."""
    by_k = {k: counts(solved(prior, n, k), solved(after, n, k)) for k in ks_for(n)}
    reach = [k for k in ks_for(n) if solved(prior, n, k).mean() >= solved(after, n, k).mean()]
    newly = [{"problem_id": i, "prior": 0, "run": int(c), "n": n}
             for i, c0, c in zip(ids, prior, after) if c0 == 0 and c > 0]  # fmt: skip
    return {"n": n, "by_k": by_k, "crossover_k": reach[0] if reach else None,
            "gap": float(solved(prior, n, n).mean() - (after / n).mean()), "newly": newly,
            "_a": solved(prior, n, n), "_b": solved(after, n, n)}  # fmt: skip


def support(runs, *, seed: int = 0, n_boot: int = 1000) -> dict:
    """report.json's "support": {runs: per run, cells: per algo x prior {runs, k, P, E, S
    (means), SRR/NDR/NSCR {mean, lo, hi}, gap, newly}}."""
    rows = [run_support(run) for run in runs]
    rng = np.random.default_rng([seed, 26])  # its own stream
    groups = defaultdict(list)
    for row in rows:
        groups[(row["algo"], row["prior"])].append(row)
    cells = [
        {"algo": algo, "prior": prior, **cell_summary(group, rng, n_boot)}
        for (algo, prior), group in sorted(groups.items())
    ]
    public = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
    return {"runs": public, "cells": cells, "lines": lines(cells)}


def cell_summary(group: list[dict], rng: np.random.Generator, n_boot: int = 1000) -> dict:
    """One algorithm x prior's runs (rows of run_support): P, E, S means at k = n, each
    ratio's mean with a 95% percentile interval from one bootstrap over problems shared by
    the runs, the gap and the newly solved count."""
    n_problems = len(group[0]["_a"])
    weights = rng.multinomial(n_problems, np.full(n_problems, 1 / n_problems), size=n_boot)
    cell = {"runs": len(group), "k": group[0]["n"]}
    at_n = [row["by_k"][row["n"]] for row in group]
    for key in ("P", "E", "S"):
        cell[key] = float(np.mean([c[key] for c in at_n]))
    for key in RATIOS:
        values = [c[key] for c in at_n if c[key] is not None]
        with warnings.catch_warnings():  # a resample where no run has the ratio: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            draws = np.nanmean([_boot(row["_a"], row["_b"], weights, key) for row in group], 0)
        lo, hi = (np.nanpercentile(draws, [2.5, 97.5]) if np.isfinite(draws).any()
                  else (np.nan, np.nan))  # fmt: skip
        cell[key] = {"mean": float(np.mean(values)) if values else None,
                     "lo": _finite(lo), "hi": _finite(hi)}  # fmt: skip
    cell["gap"] = float(np.mean([row["gap"] for row in group]))
    cell["newly"] = sum(len(row["newly"]) for row in group)
    if all("_wide" in row for row in group):  # the run at k = n against the prior at k_wide
        wide = {"k": group[0]["wide"]["k"], "P": float(np.mean([r["wide"]["P"] for r in group])),
                "S": float(np.mean([r["wide"]["S"] for r in group]))}  # fmt: skip
        for key in ("NDR", "new"):
            with warnings.catch_warnings():  # a resample where no run has the ratio: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                draws = np.nanmean([_boot(r["_wide"], r["_b"], weights, key) for r in group], 0)
            values = [r["wide"][key] for r in group if r["wide"][key] is not None]
            lo, hi = (np.nanpercentile(draws, [2.5, 97.5]) if np.isfinite(draws).any()
                      else (np.nan, np.nan))  # fmt: skip
            wide[key] = {"mean": float(np.mean(values)) if values else None,
                         "lo": _finite(lo), "hi": _finite(hi)}  # fmt: skip
        cell["wide"] = wide
    return cell


def outcome(cell: dict, margin: float = DISCOVERY_MARGIN) -> str:
    """ "selected" when NDR's 95% interval lies within [0, margin] (discovery ruled out),
    "discovered" when it lies above margin, else "inconclusive". Where the prior solves
    nothing (P + S = 0), NDR is 1 as soon as the run solves one problem, or undefined: the
    share of problems newly solved, E / N, is read the same way instead. When the prior was
    also sampled at a larger k (support_samples), the run is judged against that: a problem
    the prior solves once in a few hundred samples is not a discovery."""
    cell = cell.get("wide", cell)
    usable = cell["P"] + cell["S"] > 0 and cell["NDR"]["lo"] is not None
    ndr = cell["NDR"] if usable else cell["new"]
    if ndr["lo"] is None or ndr["hi"] is None:
        return "inconclusive"
    return "selected" if ndr["hi"] <= margin else "discovered" if ndr["lo"] > margin else (
        "inconclusive")  # fmt: skip


def lines(cells: list[dict], margin: float = DISCOVERY_MARGIN) -> list[str]:
    """One sentence per prior: which methods selected (NDR within margin of 0), discovered
    (NDR above margin) or cannot be told, with the positive control's reading beside them."""
    out = []
    for prior in sorted(dict.fromkeys(c["prior"] for c in cells), key=_natural):
        here = [c for c in cells if c["prior"] == prior]
        said = {"selected": [], "discovered": [], "inconclusive": []}
        control = None
        for c in here:
            text = f"{c['algo']} {_ci(c, 'NDR')}, {_ci(c, 'new')}"
            if "wide" in c:
                text += f" (prior at k = {c['wide']['k']}: {_ci(c['wide'], 'NDR')})"
            if c["algo"] == CONTROL:
                control = (c, text)
            else:
                said[outcome(c, margin)].append(text)
        parts = [f"{name} ({verb}): " + ", ".join(said[name])
                 for name, verb in (("selected", f"within {margin:.2f} of 0"),
                                    ("discovered", f"above {margin:.2f}"),
                                    ("inconclusive", "the interval straddles the margin"))
                 if said[name]]  # fmt: skip
        if control:
            seen = outcome(control[0], margin) == "discovered"
            parts.append(f"positive control {control[1]}: " + (
                "the metric sees discovery here" if seen else
                "shows no discovery, so a 'selected' here is not evidence"))  # fmt: skip
        k = here[0]["k"]
        out.append(f"selection or discovery at prior {prior} (NDR, or the share of problems "
                   f"newly solved where the prior solves none; k = {k}, 95% CI): "
                   + "; ".join(parts))  # fmt: skip
    return out


def _natural(label: str) -> list:
    """Sort key reading digit runs as numbers: 0%, 1%, 3%, 10%, 30%."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", label)]  # fmt: skip


def _ci(cell: dict, key: str) -> str:
    r = cell[key]
    if r["mean"] is None:
        return f"{key} n/a"
    ends = "" if r["lo"] is None else f" [{r['lo']:.2f}, {r['hi']:.2f}]"
    return f"{key} {r['mean']:.2f}{ends}"


def _boot(a: np.ndarray, b: np.ndarray, weights: np.ndarray, key: str) -> np.ndarray:
    """The ratio `key` in each bootstrap resample of the problems (weights: B x problems)."""
    p, e, s = weights @ (a * b), weights @ ((1 - a) * b), weights @ (a * (1 - b))
    ratios = {"SRR": (p, p + s), "NDR": (e, p + e), "NSCR": (e - s, p + e + s),
              "new": (e, weights.sum(axis=1))}  # fmt: skip
    num, den = ratios[key]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _finite(x) -> float | None:
    return float(x) if np.isfinite(x) else None


def table(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per algorithm and prior: P / E / S at k = n and the three ratios [95% CI]."""
    block = report.get("support")
    if not block or not block["cells"]:
        return []

    def ci(r):
        if r["mean"] is None:
            return ""
        ends = "" if r["lo"] is None else f" [{r['lo']:.2f}, {r['hi']:.2f}]"
        return f"{r['mean']:.2f}{ends}"

    rows = [[c["algo"], c["prior"], str(c["runs"]), str(c["k"]),
             f"{c['P']:.1f} / {c['E']:.1f} / {c['S']:.1f}", ci(c["SRR"]), ci(c["NDR"]),
             ci(c["NSCR"]), f"{100 * c['gap']:.1f}", str(c["newly"])]
            for c in block["cells"]]  # fmt: skip
    title = (
        "Selection or discovery: support at k = n against the prior's (Wu et al. 2025), test "
        "problems solved by both / the run only / the prior only (means over runs; whole "
        "solutions where the task checks steps), SRR = P/(P+S), NDR = E/(P+E), NSCR = "
        "(E-S)/(P+E+S) [95% CI, bootstrap over problems], the gap pass@n(prior) - pass@1(run) "
        "in points, and the problems newly solved (0 of n prior samples right)"
    )
    header = ["algo", "prior", "runs", "k", "P / E / S", "SRR", "NDR", "NSCR", "gap",
              "newly solved"]  # fmt: skip
    if any("wide" in c for c in block["cells"]):  # the prior also sampled at a larger k
        header.append("NDR, prior at k_wide")
        for row, c in zip(rows, block["cells"]):
            row.append(f"{ci(c['wide']['NDR'])} (k_wide {c['wide']['k']})" if "wide" in c else "")
        title += "; and NDR against the prior sampled at the larger k_wide (support_samples)"
    return [(title, header, rows), *newly_table(block)]


NEWLY_SHOWN = 30  # problems listed per prior in the table; report.json keeps every one


def newly_table(block: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every problem some run newly solved (its prior's samples all wrong), per prior: the
    prior's right samples (and at k_wide), the gold answer, which runs solved it with how
    many right samples, and one right completion. Per prior, the problems an RL run solved
    come first, then those only the positive control solved; NEWLY_SHOWN per prior."""
    found = defaultdict(list)  # (prior, problem) -> the runs' entries
    for run in block["runs"]:
        for item in run["newly"]:
            found[(run["prior"], item["problem_id"])].append((run, item))
    if not found:
        return []
    rows, shown = [], defaultdict(int)

    def order(item):  # per prior: problems RL solved first, then the control's own
        (prior, problem), entries = item
        only_control = all(run["algo"] == CONTROL for run, _ in entries)
        return _natural(prior), only_control, -len(entries), problem

    for (prior, problem), entries in sorted(found.items(), key=order):
        shown[prior] += 1
        if shown[prior] > NEWLY_SHOWN:
            continue
        first = entries[0][1]
        before = f"0 of {first['n']}"
        if "n_wide" in first:
            before += f"; {first['prior_wide']} of {first['n_wide']}"
        runs = ", ".join(f"{r['algo']} s{r['seed']} {i['run']}/{i['n']}" for r, i in entries)
        rows.append([prior, problem, before, first.get("gold", ""), runs, first.get("example", "")])
    cut = {p: n - NEWLY_SHOWN for p, n in shown.items() if n > NEWLY_SHOWN}
    title = (
        "Newly solved problems: every test problem a run solves whole that its prior's samples "
        "all got wrong (0 of n: a prior probability below about 3/n), with the prior's count at "
        "k_wide where it was sampled wider, and each run that solved it (right samples / n)"
    )
    if cut:
        title += "; not listed here (see report.json): " + ", ".join(
            f"{n} more at prior {p}" for p, n in cut.items())  # fmt: skip
    header = ["prior", "problem", "prior right", "gold", "runs (right / n)", "a right sample"]
    return [(title, header, rows)]
