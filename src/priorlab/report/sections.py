"""The sections of report.json, each computed from the loaded tables (see report/__init__.py)."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np

from priorlab.report.load import Run, Tables, number, training_rows
from priorlab.report.stats import (
    anova_shares,
    boot_means,
    bootstrap_p,
    crossover_k,
    fit_entropy_reward,
    holm,
    percentile_ci,
    resample_weights,
)

BASELINE = "sft"  # the SFT baseline's algo label: excluded from "variance_rl"
PRIOR_ROW = "prior"  # the algo label of the untrained prior's rows


def cells(runs: list[Run]) -> dict[tuple[str, str], list[int]]:
    """{(algo, prior): indices of its runs in `runs`}, sorted by algo then prior."""
    index = defaultdict(list)
    for i, run in enumerate(runs):
        index[(run.algo, run.prior)].append(i)
    return dict(sorted(index.items()))


def prior_runs(runs: list[Run]) -> dict[str, list[int]]:
    """{prior: one run index per seed}: the first run by run_id stands for that (prior, seed).

    Runs from the same prior and seed evaluate the same untrained model, so each prior seed
    is counted once in the prior's own rows.
    """
    chosen: dict[tuple[str, int], int] = {}
    for i in sorted(range(len(runs)), key=lambda i: runs[i].run_id):
        chosen.setdefault((runs[i].prior, runs[i].seed), i)
    out = defaultdict(list)
    for (prior, _), i in sorted(chosen.items()):
        out[prior].append(i)
    return dict(sorted(out.items()))


def _interval(values: np.ndarray, w_rows, w_problems) -> dict:
    lo, hi = percentile_ci(boot_means(values, w_rows, w_problems))
    return {"mean": float(values.mean()), "lo": lo, "hi": hi}


def headline(tables: Tables, *, rng: np.random.Generator, n_boot: int) -> list[dict]:
    """Trained cells (sorted), then the prior's rows: pass@1, greedy, maj@n, pass@n, entropy
    with CIs (greedy None when a run of the row lacks a greedy decode of some problem)."""
    n = tables.n
    groups = [(algo, prior, tables.final, idx) for (algo, prior), idx in cells(tables.runs).items()]
    groups += [(PRIOR_ROW, p, tables.initial, idx) for p, idx in prior_runs(tables.runs).items()]
    rows = []
    for algo, prior, stage, idx in groups:
        w_rows, w_problems = resample_weights(
            np.zeros(len(idx)), len(tables.problem_ids), rng=rng, n_boot=n_boot
        )
        row = {"algo": algo, "prior": prior, "seeds": [tables.runs[i].seed for i in idx]}
        for name, key in (("pass@1", "pass@1"), ("maj@n", f"maj@{n}"), ("pass@n", f"pass@{n}")):
            row[name] = _interval(stage[key][idx], w_rows, w_problems)
        greedy = stage["greedy"][idx]  # (seeds, problems): the one greedy decode correct
        row["greedy"] = None if np.isnan(greedy).any() else _interval(greedy, w_rows, w_problems)
        row["entropy"] = _interval(stage["entropy"][idx], w_rows, w_problems)
        rows.append(row)
    return rows


def variance(tables: Tables, *, rng: np.random.Generator, n_boot: int, rl_only: bool) -> dict:
    """anova_shares of final pass@1 (mean over problems, one value per run)."""
    keep = [i for i, r in enumerate(tables.runs) if not (rl_only and r.algo == BASELINE)]
    if not keep:
        return {"n_runs": 0, "terms": [], "dropped": {}, "sum_sq": {}, "df": {}, "shares": {}}
    y = tables.final["pass@1"][keep].mean(axis=1)
    algo = [tables.runs[i].algo for i in keep]
    prior = [tables.runs[i].prior for i in keep]
    return anova_shares(y, algo, prior, rng=rng, n_boot=n_boot)


LEVEL_TERMS = ("method", "prior", "interaction", "seed")


def levels(tables: Tables, *, rng: np.random.Generator, n_boot: int) -> list[dict]:
    """Per level (sorted by name): anova_shares of final pass@1 on the level's runs, with the
    level's method (its value of the factor the level varies) in place of the algorithm."""
    names = sorted({name for run in tables.runs for name in run.levels})
    return [_level(tables, name, rng=rng, n_boot=n_boot) for name in names]


def _level(tables: Tables, name: str, *, rng: np.random.Generator, n_boot: int) -> dict:
    keep = [i for i, run in enumerate(tables.runs) if name in run.levels]
    tags = [tables.runs[i].levels[name] for i in keep]
    y = tables.final["pass@1"][keep].mean(axis=1)
    prior = [tables.runs[i].prior for i in keep]
    anova = anova_shares(y, [t["method"] for t in tags], prior, rng=rng, n_boot=n_boot)
    renamed = {
        key: {("method" if k == "algo" else k): v for k, v in anova[key].items()}
        for key in ("dropped", "sum_sq", "df", "shares")
    }
    factor = tags[0]["factor"]
    return {
        "level": name,
        "factor": factor,
        "methods": sorted({t["method"] for t in tags}),
        "n_runs": anova["n_runs"],
        **renamed,
    }


def pairwise(tables: Tables, *, rng: np.random.Generator, n_boot: int) -> list[dict]:
    """Every algorithm pair: paired difference in final pass@1 pooled over priors, Holm p."""
    by_key = {(r.algo, r.prior, r.seed): i for i, r in enumerate(tables.runs)}
    algos = sorted({r.algo for r in tables.runs})
    rows = []
    for a, b in itertools.combinations(algos, 2):
        # runs paired on (prior, seed)
        keys = sorted((p, s) for (x, p, s) in by_key if x == a and (b, p, s) in by_key)
        row = {"a": a, "b": b, "n_pairs": len(keys)}
        row |= dict.fromkeys(("diff", "lo", "hi", "p", "p_holm"))
        if keys:
            pass1 = tables.final["pass@1"]
            diff = np.stack([pass1[by_key[(a, *k)]] - pass1[by_key[(b, *k)]] for k in keys])
            w_rows, w_problems = resample_weights(
                [p for p, _ in keys], diff.shape[1], rng=rng, n_boot=n_boot
            )
            draws = boot_means(diff, w_rows, w_problems)
            lo, hi = percentile_ci(draws)
            row |= {"diff": float(diff.mean()), "lo": lo, "hi": hi, "p": bootstrap_p(draws)}
        rows.append(row)
    tested = [row for row in rows if row["p"] is not None]
    for row, adjusted in zip(tested, holm([row["p"] for row in tested])):
        row["p_holm"] = adjusted
    return rows


def pass_at_k(tables: Tables) -> dict:
    """pass@k curves (mean over seeds and problems) of each cell and of each prior; crossover."""
    ks = tables.ks
    prior_curves = {
        prior: [float(tables.initial[f"pass@{k}"][idx].mean()) for k in ks]
        for prior, idx in prior_runs(tables.runs).items()
    }
    curves = []
    for (algo, prior), idx in cells(tables.runs).items():
        curve = [float(tables.final[f"pass@{k}"][idx].mean()) for k in ks]
        cross = crossover_k(ks, prior_curves[prior], curve)
        curves.append({"algo": algo, "prior": prior, "pass@k": curve, "crossover_k": cross})
    return {"ks": ks, "prior": prior_curves, "curves": curves}


def selection(tables: Tables) -> list[dict]:
    """Of the problems each run's policy solves (c > 0), how many its own prior already solved."""
    rows = []
    for (algo, prior), idx in cells(tables.runs).items():
        per_seed = []
        for i in idx:
            solved = tables.final["c"][i] > 0
            before = tables.initial["c"][i] > 0
            per_seed.append(
                {
                    "seed": tables.runs[i].seed,
                    "solved": int(solved.sum()),
                    "already_solved": int((solved & before).sum()),
                    "new": int((solved & ~before).sum()),
                }
            )
        total = sum(s["solved"] for s in per_seed)
        already = sum(s["already_solved"] for s in per_seed)
        rows.append(
            {
                "algo": algo,
                "prior": prior,
                "share_already_solved": already / total if total else None,
                "new_mean": float(np.mean([s["new"] for s in per_seed])),
                "per_seed": per_seed,
            }
        )
    return rows


def entropy_points(runs: list[Run]) -> dict[str, tuple[list[float], list[float]]]:
    """{algo: (policy/entropy, reward/mean)} over its runs' training rows that log both."""
    points: dict[str, tuple[list, list]] = {}
    for run in runs:
        for row in training_rows(run.path):
            h, r = number(row.get("policy/entropy")), number(row.get("reward/mean"))
            if h is not None and r is not None:
                hs, rs = points.setdefault(run.algo, ([], []))
                hs.append(h)
                rs.append(r)
    return dict(sorted(points.items()))


def entropy(points: dict[str, tuple[list[float], list[float]]]) -> dict[str, dict]:
    """fit_entropy_reward per algo with at least 3 points."""
    return {algo: fit_entropy_reward(h, r) for algo, (h, r) in points.items() if len(h) >= 3}


def learning_curves(runs: list[Run]) -> list[dict]:
    """Per cell: task/accuracy at each logged "samples" value, mean over the seeds that log it."""
    out = []
    for (algo, prior), idx in cells(runs).items():
        by_samples = defaultdict(list)
        for i in idx:
            last = {}  # samples -> accuracy, the last row of the run wins
            for row in training_rows(runs[i].path):
                s, acc = number(row.get("samples")), number(row.get("task/accuracy"))
                if s is not None and acc is not None:
                    last[s] = acc
            for s, acc in last.items():
                by_samples[s].append(acc)
        points = [
            {"samples": s, "accuracy": float(np.mean(accs)), "n_seeds": len(accs)}
            for s, accs in sorted(by_samples.items())
        ]
        out.append({"algo": algo, "prior": prior, "points": points})
    return out


def reward_vs_accuracy(runs: list[Run]) -> list[dict]:
    """Per algo: what training optimised (reward/mean) and the truth (task/accuracy), on the
    first and last training step, mean over its runs; `diverges` when the reward rose while
    the accuracy fell, a proxy reward the policy games."""
    ends = defaultdict(list)  # algo -> [(reward first, last, accuracy first, last)]
    for run in runs:
        rows = [
            (number(r.get("reward/mean")), number(r.get("task/accuracy")))
            for r in training_rows(run.path)
        ]
        rows = [(rw, acc) for rw, acc in rows if rw is not None and acc is not None]
        if len(rows) >= 2:
            ends[run.algo].append((rows[0][0], rows[-1][0], rows[0][1], rows[-1][1]))
    out = []
    for algo, values in sorted(ends.items()):
        r0, r1, a0, a1 = (float(np.mean(col)) for col in zip(*values))
        out.append(
            {
                "algo": algo,
                "n_runs": len(values),
                "reward_first": r0,
                "reward_last": r1,
                "accuracy_first": a0,
                "accuracy_last": a1,
                "diverges": bool(r1 > r0 and a1 < a0),
            }
        )
    return out
