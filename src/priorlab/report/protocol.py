"""Is the sweep's protocol good enough for its verdict? The tuning record and a checklist
(tuned, converged, clipping active, seeds, no collapse, large k); see report/__init__.py."""

from __future__ import annotations

import json
from collections import Counter

from priorlab.report.diagnostics import converged_check
from priorlab.report.load import Run, number, run_selection
from priorlab.report.mechanism import mechanism_check
from priorlab.report.tuning_edges import candidate_se, describe, flag

MIN_SEEDS = 5  # seeds per algo x prior cell for a confirmatory verdict
MIN_K = 256  # samples per problem: the regime of the pass@k crossover (Yue et al. 2025)
ADVICE = (
    "A verdict that fails a check is exploratory: tune on dev, train to a plateau, use >= "
    f"{MIN_SEEDS} seeds (see the protocol in the README)"
)


def tuning(runs: list[Run]) -> list[dict] | None:
    """One entry per algo x prior x reward from its final runs' selection.json (all seeds of
    a cell share one selection: the first seed's is read), sorted, each candidate with the se
    of its score and each entry with the chosen point's grid edges (tuning_edges); None for
    an untuned sweep."""
    found = {}
    for run in runs:
        key = (run.algo, run.prior, run.reward or "")
        selection = None if key in found else run_selection(run)
        if selection is None:
            continue
        candidates = [
            {
                "run_id": None if c.get("run_id") is None else str(c["run_id"]),
                "params": c["params"] if isinstance(c.get("params"), dict) else {},
                "seed": int(c["seed"]) if number(c.get("seed")) is not None else None,
                "score": number(c.get("score")),
                "se": candidate_se(run.path.parent / str(c.get("run_id"))),
                "status": str(c.get("status", "done")),
            }
            for c in selection.get("candidates", [])
            if isinstance(c, dict)
        ]
        chosen = selection.get("chosen")
        found[key] = {
            "algo": run.algo,
            "prior": run.prior,
            "reward": run.reward,
            "rule": None if selection.get("rule") is None else str(selection["rule"]),
            "candidates": candidates,
            "chosen": chosen if isinstance(chosen, dict) else run.params,
            "score": number(selection.get("score")),
        }
    entries = [found[key] for key in sorted(found)]
    flag(entries)
    return entries or None


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _check(name: str, ok: bool | None, detail: str) -> dict:
    return {"name": name, "ok": ok, "detail": detail}


def _tuned(tuning: list[dict] | None, tune_runs: list[Run]) -> dict:
    """ok when the sweep tuned its hyper-parameters; detail: what varied, seeds per candidate."""
    if tuning:
        groups = [[(c["params"], c["seed"], c["status"]) for c in t["candidates"]] for t in tuning]
        rules = sorted({t["rule"] for t in tuning if t["rule"]})
    elif tune_runs:
        by_cell: dict[tuple, list] = {}
        for run in tune_runs:
            by_cell.setdefault((run.algo, run.prior, run.reward), []).append(
                (run.params, run.seed, "done")
            )
        groups, rules = list(by_cell.values()), []
    else:
        return _check("tuned", False, "untuned: every run kept its preset's hyper-parameters")
    values: dict[str, set] = {}
    seeds = []
    for group in groups:
        for params, _, _ in group:
            for name, value in params.items():
                values.setdefault(str(name), set()).add(_key(value))
        seeds += Counter(_key(params) for params, _, _ in group).values()
    varied = ", ".join(f"{name} over {len(v)} values" for name, v in sorted(values.items()))
    lo, hi = min(seeds, default=0), max(seeds, default=0)
    per = f"{lo}" if lo == hi else f"{lo}-{hi}"
    detail = f"{varied or 'no field varied'}, {per} seed{'s' * (hi != 1)} per candidate"
    detail += f", {len(groups)} algo x prior x reward cells"
    failed = sum(status != "done" for group in groups for _, _, status in group)
    detail += f", {failed} candidate{'s' * (failed != 1)} failed" if failed else ""
    detail += f" (rule: {'; '.join(rules)})" if rules else ""
    ok, edges = describe(tuning)
    return _check("tuned", ok, detail + (f"; {edges}" if edges else ""))


def _clipping_active(clipping: list[dict]) -> dict:
    """ok when the clip binds (clipfrac > 0) for every algorithm that logs clip fractions."""
    logged = [row for row in clipping if row["active"] is not None]
    if not logged:
        if any(row["updates"] is not None for row in clipping):
            return _check("clipping active", True, "no algorithm in the sweep has a clipped loss")
        return _check("clipping active", None, "no run logs policy/clipfrac")
    idle = [row for row in logged if not row["active"]]
    if not idle:
        binds = ", ".join(f"{r['algo']} {100 * (r['clipfrac'] or 0):.1f}%" for r in logged)
        return _check("clipping active", True, f"the clip binds: {binds} of tokens")
    names = [
        row["algo"] + ("" if row["updates"] is None else f" (policy/updates {row['updates']:g})")
        for row in idle
    ]
    return _check("clipping active", False, f"the clip never binds for {', '.join(names)}")


def _seeds(runs: list[dict]) -> dict:
    """ok when every algo x prior cell has at least MIN_SEEDS seeds."""
    per_cell = Counter((run["algo"], run["prior"]) for run in runs).values()
    lo, hi = min(per_cell), max(per_cell)
    detail = f"{lo} seeds per cell" if lo == hi else f"{lo}-{hi} seeds per cell"
    return _check("seeds", lo >= MIN_SEEDS, f"{detail} (>= {MIN_SEEDS} needed)")


def _no_collapse(collapses: list[dict], margin: float) -> dict:
    """ok when no final run ended more than the margin below its own prior, tested with
    Holm across the sweep's runs (collapse.collapses)."""
    measured = [row for row in collapses if row["p"] is not None]
    if not measured:
        return _check("no collapse", None, "no run compared its final test pass@1 with its prior's")
    rule = (
        f"a run is flagged when it ends more than {100 * margin:g} points below its prior "
        f"(one-sided t over test problems, Holm across the sweep's {len(measured)} runs)"
    )
    collapsed = [row for row in measured if row["collapsed"]]
    if not collapsed:
        below = sum(row["gain"] < 0 for row in measured)
        detail = f"no run collapsed ({below} of {len(measured)} below their prior by less); {rule}"
        return _check("no collapse", True, detail)
    return _check(
        "no collapse", False, "COLLAPSED below its prior: " + collapse_list(collapsed) + f"; {rule}"
    )


def collapse_list(rows: list[dict], most: int = 6) -> str:
    """'grpo on A, seed 1 (r-1a2b3c4d5e6f; gain -0.080 [-0.120, -0.040])', comma separated
    (the run's id as in the run status table); more than `most` runs
    are counted per algorithm and prior instead ('42 runs: rcrl 9 (weak 4, ...), ...')."""
    if len(rows) > most:
        by_algo: dict[str, Counter] = {}
        for row in rows:
            by_algo.setdefault(row["algo"], Counter())[row["prior"]] += 1
        ranked = sorted(by_algo.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        parts = [
            f"{algo} {sum(c.values())} ({', '.join(f'{p} {n}' for p, n in sorted(c.items()))})"
            for algo, c in ranked
        ]
        return f"{len(rows)} runs: " + ", ".join(parts) + " (each in the run status table)"
    out = []
    for row in rows:
        ci = row.get("gain_ci") or (None if row.get("lo") is None else [row["lo"], row["hi"]])
        gain = "n/a" if row["gain"] is None else f"{row['gain']:+.3f}"
        interval = "" if ci is None else f" [{ci[0]:+.3f}, {ci[1]:+.3f}]"
        who = f"{row['algo']} on {row['prior']}, seed {row['seed']} ({row['run_id']}; "
        out.append(f"{who}gain {gain}{interval})")
    return ", ".join(out)


def _large_k(n_samples: int) -> dict:
    """ok when n_samples >= MIN_K, where RL-trained policies' pass@k falls behind the prior's."""
    detail = f"n = {n_samples} samples per problem; the pass@k crossover of Yue et al. 2025 "
    detail += f"shows at k >= {MIN_K}"
    return _check("large k", n_samples >= MIN_K, detail)


def powered(families: list[dict], margin: float) -> dict:
    """ok when every family could declare a truly equal pair equivalent with >= 80%
    probability at its noisiest pair, at Holm's first step (inference.power): a sweep that
    cannot says nothing about interchangeability through its inconclusive pairs."""
    rows = [(f["family"], f["power"]) for f in families if f.get("power")]
    if not rows:
        return _check("powered", None, "no family with two methods on shared cells")
    parts = [
        f"{name} {100 * p['equivalence']:.0f}% (noisiest pair {p['pair']}, se "
        f"{100 * p['se']:.2f} points)"
        for name, p in rows
    ]
    detail = (
        f"a truly equal pair is declared equivalent within ±{100 * margin:g} points (Holm's "
        f"first step; 80% needed): " + ", ".join(parts)
    )
    return _check("powered", all(p["powered"] for _, p in rows), detail)


def protocol(
    *,
    n_samples: int,
    runs: list[dict],
    convergence_cells: list[dict],
    mechanism: list[dict],
    collapses: list[dict],
    margin: float,
    clipping: list[dict],
    tuning: list[dict] | None,
    tune_runs: list[Run],
    families: list[dict],
) -> dict:
    """The checklist next to the verdict; exploratory when any check is not ok (False or None).

    runs: report.json's [{run_id, algo, prior, seed}]; convergence_cells, mechanism, collapses,
    clipping, tuning: its sections; tune_runs: load.tuning_runs of the sweep; families: its
    inference.
    """
    checks = [
        _tuned(tuning, tune_runs),
        converged_check(convergence_cells),
        _clipping_active(clipping),
        mechanism_check(mechanism),
        _seeds(runs),
        _no_collapse(collapses, margin),
        _large_k(n_samples),
        powered(families, margin),
    ]
    return {"checks": checks, "exploratory": any(check["ok"] is not True for check in checks)}
