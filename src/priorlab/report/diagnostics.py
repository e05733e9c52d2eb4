"""Was each run trained well enough to trust? Clip fractions, convergence on dev, the change
from the prior, and the verdict as a function of the budget (see report/__init__.py)."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from priorlab.report.load import Run, number, training_rows
from priorlab.report.stats import TERMS, anova_point

# report name -> metrics.jsonl key; the fractions are logged only by clipped losses
CLIP_KEYS = {
    "clipfrac_low": "policy/clipfrac_low",  # A < 0 and ratio < 1 - eps_low
    "clipfrac_high": "policy/clipfrac_high",  # A > 0 and ratio > 1 + eps_high
    "clipfrac": "policy/clipfrac",
}
UPDATES_KEY = "policy/updates"  # optimiser steps per rollout batch
# summary.json statuses, in the order the report lists them
CONVERGENCE = ("converged", "improving", "declining", "undetermined", "too few points")
VS_PRIOR = ("gained", "unchanged", "collapsed")


def _mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def clipping(runs: list[Run]) -> list[dict]:
    """Per algo (sorted): each clip fraction's mean over the training steps that log it, then
    over the runs that log it; `updates` likewise; active = mean clipfrac > 0 (low + high
    when only the sides are logged), None for an algo that logs no clip fraction."""
    per_run: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    clipped_runs: Counter = Counter()
    for run in runs:
        rows = training_rows(run.path)
        logged = False
        for name, key in (*CLIP_KEYS.items(), ("updates", UPDATES_KEY)):
            values = [v for v in (number(row.get(key)) for row in rows) if v is not None]
            if values:
                per_run[run.algo][name].append(float(np.mean(values)))
                logged = logged or name in CLIP_KEYS
        clipped_runs[run.algo] += int(logged)
    out = []
    for algo in sorted({run.algo for run in runs}):
        means = {name: _mean_or_none(per_run[algo][name]) for name in (*CLIP_KEYS, "updates")}
        total = means["clipfrac"]
        sides = [means[name] for name in ("clipfrac_low", "clipfrac_high")]
        if total is None and any(side is not None for side in sides):
            total = sum(side or 0.0 for side in sides)
        active = None if total is None else total > 0
        out.append({"algo": algo, "n_runs": clipped_runs[algo], **means, "active": active})
    return out


def _status(block: dict) -> str | None:
    status = block.get("status")
    return str(status) if isinstance(status, str) else None


def _interval(value) -> list[float] | None:
    """[lo, hi] when value is a pair of finite numbers, else None."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    pair = [number(v) for v in value]
    return None if None in pair else pair


def _block(summary: dict, key: str) -> dict:
    value = summary.get(key)
    return value if isinstance(value, dict) else {}


def run_status(runs: list[Run], summaries: dict[str, dict]) -> list[dict]:
    """Per final run: its dev-set convergence test and its change from the prior (summary.json
    "convergence" and "vs_prior"); None where the run did not measure it."""
    rows = []
    for run in runs:
        convergence = _block(summaries[run.run_id], "convergence")
        vs_prior = _block(summaries[run.run_id], "vs_prior")
        rows.append(
            {
                **run.cell(),
                "convergence": _status(convergence),
                "change": number(convergence.get("change")),
                "ci": _interval(convergence.get("ci")),
                "tol": number(convergence.get("tol")),
                "vs_prior": _status(vs_prior),
                "gain": number(vs_prior.get("gain")),
                "gain_ci": _interval(vs_prior.get("ci")),
            }
        )
    return rows


def status_counts(rows: list[dict]) -> dict[str, dict[str, int]]:
    """{algo: {status: number of its runs}} over the convergence and vs_prior statuses (every
    known status listed, 0 included; an unknown status from summary.json is counted too)."""
    out = {}
    for algo in sorted({row["algo"] for row in rows}):
        counts = dict.fromkeys((*CONVERGENCE, *VS_PRIOR), 0)
        for row in rows:
            if row["algo"] == algo:
                for status in (row["convergence"], row["vs_prior"]):
                    if status is not None:
                        counts[status] = counts.get(status, 0) + 1
        out[algo] = counts
    return out


def dev_curve(summary: dict) -> list[tuple[float, float]]:
    """[(samples, dev pass@1)] of summary.json's "dev" curve, sorted by samples; [] if none."""
    curve = _block(summary, "dev").get("curve")
    points = []
    for point in curve if isinstance(curve, list) else []:
        if isinstance(point, dict):
            samples, value = number(point.get("samples")), number(point.get("pass@1"))
            if samples is not None and value is not None:
                points.append((samples, value))
    return sorted(points)


def verdict_vs_budget(runs: list[Run], summaries: dict[str, dict]) -> dict | None:
    """The "variance" ANOVA (algo * prior, seeds as replicates; point estimates, no bootstrap)
    on run-level dev pass@1 at each checkpoint budget b: per run, its last dev point with
    samples <= b. Runs without a dev curve are left out (listed in `without_dev`); a budget
    counts when every other run has a point at or before it and has been measured up to it
    (b <= its last point). None when no run has a dev curve."""
    curves = {run.run_id: dev_curve(summaries[run.run_id]) for run in runs}
    kept = [run for run in runs if curves[run.run_id]]
    if not kept:
        return None
    last = min(curves[run.run_id][-1][0] for run in kept)
    budgets = sorted({s for run in kept for s, _ in curves[run.run_id] if s <= last})
    points = []
    for budget in budgets:
        before = [[v for s, v in curves[run.run_id] if s <= budget] for run in kept]
        if not all(before):
            continue
        y = [values[-1] for values in before]
        anova = anova_point(y, [run.algo for run in kept], [run.prior for run in kept])
        shares = {term: anova["shares"][term] for term in (*TERMS, "seed")}
        point = {"samples": budget, "mean": float(np.mean(y)), "dropped": anova["dropped"]}
        points.append(point | {"shares": shares})
    return {
        "n_runs": len(kept),
        "without_dev": [run.run_id for run in runs if not curves[run.run_id]],
        "points": points,
    }
