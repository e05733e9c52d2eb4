"""Was each run trained well enough to trust? Clip fractions, convergence on dev (per run and
per method x prior cell), the change from the prior, and the verdict as a function of the
budget (see report/__init__.py)."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from priorlab.convergence import RISE, cell_plateau, plateau
from priorlab.report.load import Run, number, training_rows
from priorlab.report.mechanism import mechanism_table
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
CELL_CONVERGENCE = (*CONVERGENCE, "too few runs")  # convergence_cells' statuses
PLATEAU_TOL = 0.02  # the plateau tolerance of a run that stored none (TrainConfig.plateau_tol)
FITTED = ("converged", "improving", "declining", "undetermined")  # a cell whose power is set
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
    "convergence" and "vs_prior"); None where the run did not measure it. The convergence
    test is recomputed from the stored dev curve (convergence.plateau, at the stored
    tolerance), so runs trained by an older priorlab are judged by today's rule."""
    rows = []
    for run in runs:
        summary = summaries[run.run_id]
        convergence = _block(summary, "convergence")
        points = dev_points(summary)
        if points:
            tol = number(convergence.get("tol")) or PLATEAU_TOL
            convergence = plateau(points, tol=tol)
        vs_prior = _block(summary, "vs_prior")
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


def dev_points(summary: dict) -> list[dict]:
    """[{"samples", "pass@1", "se"}] of summary.json's "dev" curve, sorted by samples; points
    lacking any of the three numbers are left out; [] if none."""
    curve = _block(summary, "dev").get("curve")
    points = []
    for point in curve if isinstance(curve, list) else []:
        if isinstance(point, dict):
            values = {key: number(point.get(key)) for key in ("samples", "pass@1", "se")}
            if None not in values.values():
                points.append(values)
    return sorted(points, key=lambda p: p["samples"])


def convergence_cells(runs: list[Run], summaries: dict[str, dict]) -> list[dict]:
    """Per (algo, reward, prior) of the final runs, sorted: {algo, reward, prior, runs,
    **cell_plateau(their dev curves) fields}. tol is the runs' own plateau tol
    (summary.json "convergence"), else the default; a run without a dev curve leaves its cell
    "too few points"; a cell with none is not measured (status, power None). What the dev
    checkpoints cost is in each run's metrics (perf/dev_share): wall time varies between
    executions, and report.json stays the same for the same samples and curves."""
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for run in runs:
        groups[(run.algo, run.reward or "", run.prior)].append(run)
    out = []
    for (algo, _, prior), group in sorted(groups.items()):
        curves = [dev_points(summaries[run.run_id]) for run in group]
        tols = [number(_block(summaries[r.run_id], "convergence").get("tol")) for r in group]
        tols = [t for t in tols if t is not None]
        fields = cell_plateau(curves, **({"tol": tols[0]} if tols else {}))
        if not any(curves):
            fields |= {"status": None, "power": None, "limited_by": None}
        cell = {"algo": algo, "reward": group[0].reward, "prior": prior, "runs": len(group)}
        out.append(cell | fields)
    return out


def _span(values: list[float], scale: float = 1.0) -> str:
    """The range lo-hi of scale x values as whole numbers, or one number when both agree."""
    lo, hi = (f"{scale * v:.0f}" for v in (min(values), max(values)))
    return lo if lo == hi else f"{lo}-{hi}"


def _points(value: float) -> str:
    """A pass@1 difference in points, signed, one decimal ("+0.0", never "-0.0")."""
    return f"{round(100 * value, 1) + 0.0:+.1f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def converged_check(cells: list[dict]) -> dict:
    """The protocol's "converged" check over convergence_cells: ok when every cell reads
    "converged", None when no cell has a dev curve; the detail counts the other statuses (an
    undetermined cell limited by the check or by the runs) and the check's power range."""
    if all(cell["status"] is None for cell in cells):
        return {"name": "converged", "ok": None, "detail": "no run has a dev curve"}
    counts = Counter(cell["status"] or "not measured" for cell in cells)
    limits = Counter(c["limited_by"] for c in cells if c["status"] == "undetermined")
    known = ("undetermined", "improving", "declining", "too few points", "too few runs")
    unknown = sorted(set(counts) - {*CELL_CONVERGENCE, "not measured"})
    others = []
    for status in [*known, *unknown, "not measured"]:
        if counts[status]:
            by = f": {limits['check']} limited by the check, {limits['runs']} by the runs"
            others.append(f"{counts[status]} {status}" + (by if status == "undetermined" else ""))
    detail = f"{counts['converged']} of {len(cells)} method x prior cells converged"
    detail += f" ({'; '.join(others)})" if others else ""
    fitted = [cell for cell in cells if cell["status"] in FITTED]
    if fitted:
        flat = _span([c["power"]["flat_converged"] for c in fitted], 100)
        rise = _span([c["power"]["rise_improving"] for c in fitted], 100)
        seeds, points = _span([c["runs"] for c in fitted]), _span([c["points"] for c in fitted])
        detail += (
            f"; the check's power: a flat cell reads converged {flat}%, a {100 * RISE:g}-point "
            f"rise improving {rise}% ({seeds} seeds, {points} window points)"
        )
    ok = counts["converged"] == len(cells)
    return {"name": "converged", "ok": ok, "detail": detail}


def cells_table(cells: list[dict]) -> tuple[str, list[str], list[list[str]]]:
    """(title, header, rows) of convergence_cells for report.md / .html; change and its CI in
    points of pass@1, power as the chance a flat cell reads converged / a rise improving."""
    rows = []
    for cell in cells:
        change, ci, power = cell["change"], cell["ci"], cell["power"]
        shown = "n/a" if change is None else _points(change)
        if ci is not None:
            shown += f" [{_points(ci[0])}, {_points(ci[1])}]"
        odds = "n/a"
        if power is not None:
            odds = f"{_pct(power['flat_converged'])} / {_pct(power['rise_improving'])}"
        status = cell["status"] or "not measured"
        row = [cell["algo"], cell["reward"] or "", cell["prior"], str(cell["runs"]), status]
        rows.append([*row, shown, odds, cell["limited_by"] or ""])
    title = (
        "Convergence per method x prior cell: dev pass@1 change over the plateau window (the "
        "last third of the budget, or the last 5 dev points), mean over seeds (points, [95% "
        "CI]); power: how often a flat cell reads "
        f"converged / a {100 * RISE:g}-point rise improving; limited by: the check (too "
        "little power) or the runs (they moved or scattered more than sampling explains)"
    )
    header = ["algo", "reward", "prior", "runs", "status", "change", "power flat / rise",
              "limited by"]  # fmt: skip
    return title, header, rows


def run_tables(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """The per-cell tables after the run status: convergence, then the mechanism."""
    out = [cells_table(report["convergence_cells"])] if report.get("convergence_cells") else []
    return out + ([mechanism_table(report["mechanism"])] if report.get("mechanism") else [])
