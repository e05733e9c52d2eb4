"""Collapse: did a run end more than the margin below its own prior? A claim with a margin,
tested one-sided per run and corrected with Holm across the sweep."""

from __future__ import annotations

import math

from scipy.special import stdtr, stdtrit

from priorlab.report.inference import ALPHA
from priorlab.report.stats import holm


def collapses(tables, *, margin: float) -> list[dict]:
    """Per final run: did it end more than `margin` below its own prior?

    gain = mean over test problems of final - initial pass@1 (paired per problem; these
    problems fixed), se from the per-problem differences, df Q - 1. One-sided test of H0:
    gain >= -margin, p = P(T <= (gain + m) / se); Holm (1979) across every run of the sweep,
    so that a sweep whose runs truly changed by no more than the margin is flagged at all in
    at most 5% of sweeps. Returns [{run_id, algo, prior, seed, gain, lo, hi (95% t CI), p,
    p_holm, collapsed, status}]: status "collapsed", else "gained" when the 95% CI lies above
    0, else "unchanged" (a run below its prior by less than the margin, or not detectably,
    is not a collapse).
    """
    diff = tables.final["pass@1"] - tables.initial["pass@1"]  # (R, Q)
    rows = []
    for run, d in zip(tables.runs, diff):
        mean, n = float(d.mean()), len(d)
        row = {**run.cell(), "gain": mean, "lo": None, "hi": None, "p": None}
        if n >= 2:
            se = float(d.std(ddof=1)) / math.sqrt(n)
            half = float(stdtrit(n - 1, 1 - ALPHA / 2)) * se
            p = float(stdtr(n - 1, (mean + margin) / se)) if se > 0 else float(mean >= -margin)
            row |= {"lo": mean - half, "hi": mean + half, "p": p}
        rows.append(row)
    done = [row for row in rows if row["p"] is not None]
    for row, adjusted in zip(done, holm([row["p"] for row in done])):
        row["p_holm"] = adjusted
    for row in rows:
        row.setdefault("p_holm", None)
        row["collapsed"] = row["p_holm"] is not None and row["p_holm"] < ALPHA
        gained = row["lo"] is not None and row["lo"] > 0
        row["status"] = "collapsed" if row["collapsed"] else "gained" if gained else "unchanged"
    return rows
