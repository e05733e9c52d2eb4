"""The sweep report: does the algorithm matter, or does the prior set the ceiling?

build_report(sweep_dir) reads the finished final runs of a sweep (runs/<run_id>/ with
summary.json; "tune" runs of a tuned sweep only feed "tuning" and "protocol"; see
report/load.py) and writes SWEEP/report.json, SWEEP/report.md and a self-contained
SWEEP/report.html (figures inlined as base64 PNG). It never reruns training.

report.json (sort_keys, indent 2, floats rounded to 6 decimals; byte-identical for equal
inputs, n_boot and seed). Every interval is a 95% percentile bootstrap; one
numpy Generator(seed) serves the whole report, consumed in this order: headline rows,
variance, variance_rl, pairwise, levels.

- n_samples, n_problems, ks, n_boot, seed: the sweep's n per problem, its test set size,
  ks_for(n), and the bootstrap settings.
- runs: [{run_id, algo, prior, seed}] of the finished runs, sorted by (algo, prior, seed).
- headline: one row per algo x prior (final policy, samples_final), then one row per prior
  with algo "prior" (the untrained prior, samples_initial; one run per (prior, seed)):
  {algo, prior, seeds, "pass@1", greedy, "maj@n", "pass@n", entropy}, each metric {mean, lo,
  hi}: the mean over seeds and problems, CI resampling seeds then problems (hierarchical).
  greedy is the accuracy of the one greedy decode per problem (maj@1; null when a run of the
  row has none); maj@n and pass@n are at k = n; entropy: mean token entropy of sampled rows.
- variance, variance_rl: two-way ANOVA (Type II) of final pass@1 per run on algo * prior,
  over all runs resp. without the "sft" baseline: {n_runs, terms (estimated), dropped
  {term: reason}, sum_sq {term, seed, total}, df, shares {algo, prior, interaction, seed:
  {share, lo, hi} or null}}; share = SS_term / SS_total, seed = residual; CI resamples
  seeds within each algo x prior cell.
- verdict: "the algorithm explains X% of the variance in pass@1, the prior Y% (interaction
  Z%, seed W%)", from "variance".
- verdict_line: the verdict as printed: prefixed "exploratory (fails: converged, seeds, ...): "
  when protocol.exploratory, else equal to verdict.
- protocol: {checks [{name, ok (true, false, or null: not measured), detail}], exploratory}
  with checks, in order: "tuned" (the sweep had tuning runs and no chosen value sits at its
  grid's edge with a lead beyond noise, tuning_edges; detail: the fields varied, seeds per
  candidate, the edges), "converged" (every run's convergence status is "converged"), "clipping
  active" (every algo that logs clip fractions has active true), "seeds" (>= 5 seeds in every
  algo x prior cell), "no collapse" (no run's vs_prior is "collapsed"), "large k" (n_samples
  >= 256, the pass@k crossover regime of Yue et al. 2025), "powered" (every family's minimum
  detectable difference in gain is within the margin, so "equivalent" is reachable: see
  inference); exploratory: any check not true.
- verdict_vs_budget: null when no run's summary.json has a dev curve; else {n_runs,
  without_dev [run_id], points [{samples, mean, dropped, shares {algo, prior, interaction,
  seed: share or null}}]}: the "variance" ANOVA (point estimates, no bootstrap) on run-level
  dev pass@1 at each checkpoint budget b, each run's last dev point with samples <= b; b ranges
  over the runs' checkpoints up to the earliest last one. Runs without a dev curve are left out.
- levels: [] unless the sweep has levels (experiments/spec.py); then one entry per level,
  sorted by name: {level, factor ("algo", "reward" or "algo+reward": what the level varies),
  methods (the values of that factor), n_runs, dropped, sum_sq, df, shares {method, prior,
  interaction, seed}, verdict}: the "variance" ANOVA restricted to the level's runs, with
  each run's method in place of its algo; verdict: "LEVEL: the reward source explains X%
  [lo, hi] of the variance in pass@1, the prior Y% [lo, hi] (interaction ..., seed ...)".
- pairwise: every pair of algorithms a < b: {a, b, n_pairs, diff, lo, hi, p, p_holm}; diff
  is mean final pass@1 of a minus b over runs paired on (prior, seed) and problems; paired
  bootstrap (seeds within prior, problems shared); two-sided p; Holm over all pairs.
- pass_at_k: {ks, prior {prior: [pass@k per k]}, curves [{algo, prior, "pass@k": [...],
  crossover_k}]}; crossover_k is the smallest k where the prior's pass@k >= the policy's
  (Yue et al. 2025), null if never.
- selection: [{algo, prior, share_already_solved, new_mean, per_seed [{seed, solved,
  already_solved, new}]}]: of the problems the policy solves (c > 0 of n), those its own
  run's prior already solved; share pooled over seeds, new_mean the mean count over seeds.
- entropy: {algo: {a, b, r2, n_points, ceiling}}: R = -a exp(H) + b fitted on training rows
  with policy/entropy and reward/mean (Cui et al. 2025); algos with < 3 points are left out.
- clipping: [{algo, n_runs, clipfrac_low, clipfrac_high, clipfrac, updates, active}] per
  algo: the policy/clipfrac* (and policy/updates: optimiser steps per rollout batch) of its
  training rows, mean over steps then over the n_runs runs that log a clip fraction; active =
  clipfrac > 0; an algo that logs none (no clipped loss, or older runs) has nulls.
- run_status: [{run_id, algo, prior, seed, convergence, change, ci, tol, vs_prior, gain,
  gain_ci}] per run, from its summary.json: convergence (a status, "converged" ... "too few
  points") of dev pass@1 over the last third of the budget, with the fitted change, its 95% CI
  and tolerance; vs_prior ("gained", "unchanged", "collapsed") of final minus initial test
  pass@1, paired per problem, with its 95% CI; null when the run did not measure it.
- status_counts: {algo: {status: runs}} over both statuses of run_status (0s included).
- tuning: null for an untuned sweep; else [{algo, prior, reward, rule, candidates [{run_id,
  params, seed, score, se, status}], chosen, score, edges [{field, value, side, n_values,
  neighbour, lead, se, p, p_holm, beyond}]}], one per algo x prior x reward, read from its
  final runs' selection.json (se from each candidate's dev curve; edges: tuning_edges).
- learning_curves: [{algo, prior, points [{samples, accuracy, n_seeds}]}]: task/accuracy
  against completions consumed, mean over the seeds that log that samples value.
- reward_vs_accuracy: [{algo, n_runs, reward_first, reward_last, accuracy_first,
  accuracy_last, diverges}]: the optimised reward beside the verifier's accuracy on the
  first and last training step; diverges when the reward rose while the accuracy fell.

- completeness: null for a directory priorlab compare did not write; else the sweep's final
  runs checked against its jobs.json and registry (report/completeness.py): {expected,
  included, failed [{run_id, labels, error}] (left out, listed), missing [run_id] (only in a
  --partial report), ignored [run_id] (on disk, not jobs of this spec)}. Its protocol check
  "complete" comes first, and verdict_line starts "PARTIAL (i of n runs): " or "INCOMPLETE
  (f of n runs failed): " when runs are missing or failed.

Inference on the gain (report/inference.py: tests, estimators and their references; no
bootstrap, no rng). All values are fractions of the family's metric; verdicts and tables show
points. Below, pass@1 stands for the verdict's metric.
- margin: the equivalence margin, SWEEP/sweep.yaml's "margin" (default 0.02).
- metric: what the verdict (verdict, verdict_lines, inference, protocol's "powered") is on,
  SWEEP/sweep.yaml's "metric": "pass@1" (default; why: inference.DEFAULT_METRIC) or "greedy"
  (greedy accuracy, maj@1, the metric of Havrilla et al. 2024). The verdict names it.
- inference_by_metric, verdict_lines_by_metric: {metric: inference resp. verdict_lines} on
  both metrics ("pass@1", "greedy"); the verdict's metric's equal "inference" and
  "verdict_lines".
- inference_skipped: {metric: [{family, metric, runs, reason}]}: families not measured on a
  metric because runs lack it (tables without greedy decodes); their lines end the metric's
  verdict lines, and the verdict says why.
- inference: one entry per family (the sweep's levels, sorted; else "all": every algo but
  "sft"): {family, methods, n_cells (smallest n_cells of its pairs), sd_cells (pooled sd of
  the per-cell differences), mdd (minimum detectable difference, 80% power, two-sided 0.05,
  one comparison), gain {method: {mean, lo, hi}} (run gain = mean over problems of final -
  initial pass@1; 95% t CI over its cells), gain_by_prior {method: {prior: mean}},
  prior_level {prior: mean initial pass@1}, omega2_gain and omega2_level {method, prior,
  interaction: omega² or null} (Type II ANOVA of run gain resp. final pass@1), pairs [{a, b,
  n_cells, diff (a - b in gain, paired on (prior, seed)), lo, hi (95% t CI), p_diff,
  p_diff_holm, p_tost, p_tost_holm (TOST against +-margin; Holm within the family), outcome
  ("equivalent", "different" or "inconclusive"), sign ("a > b" for a difference, else null),
  cells_to_settle, seeds_per_prior_to_settle (null unless inconclusive)}], metric, verdict}.
- verdict_lines: every family's verdict, e.g. "all: the one pair equivalent within ±2.0
  points (gain 4.1–5.0 points); the prior's level explains 93% of final pass@1 (omega²)".
- entropy_law: [{algo, n_runs (fitted), unfitted, a, b, ceiling, final_pass1: {median, min,
  max}}]: R = -a exp(H) + b fitted per run on its policy/entropy and task/accuracy rows
  (report/entropy_law.py), the ceiling b - a beside the runs' measured final test pass@1.
- ceiling: where each run's dev curve ends and how fast it gets there (report/ceiling.py):
  {runs [{run_id, algo, prior, seed, reward, methods {family: method}, status, reason, r0,
  a, a_ci, b, b_ci, c_mid, c_mid_ci, c90, c90_ci, ratio, extrapolation {status,
  mean_abs_error, coverage, points}}], families [{family, ceiling, efficiency, line}],
  extrapolation {runs, mean_abs_error, coverage}}: the ScaleRL fit per run
  (priorlab/ceiling.py), and per family the verdict on A and on log C_90.
- ceiling_lines: each family's line, "refinement — ceiling: ...; efficiency: ...".
- support: selection or discovery (report/support.py): {runs [{run_id, algo, prior, seed, n,
  by_k {k: {P, E, S, SRR, NDR, NSCR}}, crossover_k, gap, newly}], cells [{algo, prior, runs,
  k, P, E, S, SRR/NDR/NSCR {mean, lo, hi}, gap, newly}], lines: a sentence per prior}
  (its own bootstrap stream).
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import matplotlib
import numpy as np

from priorlab.io import atomic_path
from priorlab.report import ceiling as ceiling_report
from priorlab.report import (
    ceiling_figures,
    collapse,
    completeness,
    diagnostics,
    figures,
    inference,
    protocol,
    render,
    render_md,
    sections,
    support,
    support_figures,
    sweep_spec,
    wording,
)
from priorlab.report.entropy_law import entropy_law
from priorlab.report.load import (
    Run,
    finished_ids,
    finished_runs,
    load_tables,
    run_metrics,
    run_summary,
    training_rows,
    tuning_runs,
)
from priorlab.report.mechanism import mechanism as mechanism_section

__all__ = ["Run", "build_report", "finished_runs", "run_metrics", "training_rows", "tuning_runs"]

DIGITS = 6
# The first generation of the report's statistics, kept for comparison with earlier reports:
# eta² (SS_t / SS_total) of final pass@1, bootstrap pairwise tests pooled over priors.
LEGACY = ("variance", "variance_rl", "levels", "verdict_vs_budget", "pairwise")
LEGACY_WHY = (
    "eta² of final pass@1 is biased upward for many-level factors and its prior share "
    "measures how far apart the priors were chosen; the pairwise bootstrap pools priors and "
    "has no equivalence test. The verdict is the inference section's (partial omega² of the "
    "gain, TOST with Holm, crossed standard errors)."
)
FIGURES = (  # (img id, caption), in the order report.html shows them
    (
        "fig-equivalence",
        "Gain differences a \u2212 b per family against the equivalence margin (shaded): "
        "thick, the interval the equivalence test used; thin, the 95% CI",
    ),
    ("fig-gain-by-prior", "Each method's gain over its prior, per prior, 95% CI"),
    ("fig-headline", "Final pass@1 per algorithm and prior, 95% CI"),
    (
        "fig-pass-at-k",
        "pass@k against k: policies, SFT baseline and the prior; x: prior catches up",
    ),
    ("fig-entropy", "Reward against policy entropy with the fit R = -a exp(H) + b"),
    ("fig-learning", "task/accuracy against completions consumed"),
    ("fig-variance", "Share of the variance in pass@1 per term (eta\u00b2, secondary), 95% CI"),
)
N_LEADING = 2  # the first FIGURES open report.html: "The verdict at a glance"
# drawn before the last of FIGURES, only when verdict_vs_budget has a share to draw
BUDGET_FIGURE = ("fig-budget", "Share of the variance in dev pass@1 against completions consumed")


def _clean(obj):
    """JSON-ready copy: numpy scalars to Python, floats rounded to DIGITS, NaN to None."""
    if isinstance(obj, dict):
        return {str(key): _clean(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(value) for value in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if not math.isfinite(obj) else round(float(obj), DIGITS) + 0.0
    return obj


def build_report(
    sweep_dir: str | Path, *, n_boot: int = 1000, seed: int = 0, partial: bool = False
) -> dict:
    """Write report.json, report.md and report.html into sweep_dir; return the report dict.

    Raises PriorlabError when the sweep has no finished runs, or runs of the sweep are not
    finished and `partial` is not set (report/completeness.py). Sections: module docstring.
    """
    sweep_dir = Path(sweep_dir)
    record = completeness.completeness(sweep_dir, finished_ids(sweep_dir), partial=partial)
    runs = finished_runs(sweep_dir, record and record["final_ids"])
    tables = load_tables(runs, seed=seed)
    rng = np.random.default_rng(seed)
    points = sections.entropy_points(runs)
    headline = sections.headline(tables, rng=rng, n_boot=n_boot)  # rng order: as documented
    variance = sections.variance(tables, rng=rng, n_boot=n_boot, rl_only=False)
    variance_rl = sections.variance(tables, rng=rng, n_boot=n_boot, rl_only=True)
    pairwise = sections.pairwise(tables, rng=rng, n_boot=n_boot)
    levels = sections.levels(tables, rng=rng, n_boot=n_boot)
    summaries = {run.run_id: run_summary(run) for run in runs}
    margin = sweep_spec.read_margin(sweep_dir)
    collapses = collapse.collapses(tables, margin=margin)
    clipping = diagnostics.clipping(runs)
    run_status = _with_collapses(diagnostics.run_status(runs, summaries), collapses)
    convergence_cells = diagnostics.convergence_cells(runs, summaries)
    mechanism = mechanism_section(runs, summaries)
    ceiling = ceiling_report.ceiling(runs, summaries, baseline=sections.BASELINE)
    tuning = protocol.tuning(runs)
    metric = sweep_spec.read_metric(sweep_dir)
    by_metric, skipped, lines_by_metric = {}, {}, {}
    for name in inference.METRICS:  # the families on each metric, the verdict's one of them
        options = {"baseline": sections.BASELINE, "metric": name}
        by_metric[name] = inference.families(tables, margin=margin, **options)
        skipped[name] = inference.skipped_families(tables, **options)
        for fam in by_metric[name]:
            fam["verdict"] = wording.family_verdict(fam)
        lines_by_metric[name] = [fam["verdict"] for fam in by_metric[name]] + [
            wording.skipped_verdict(entry) for entry in skipped[name]
        ]
    families = by_metric[metric]
    for level in levels:
        level["verdict"] = wording.level_eta2_verdict(
            level["level"], level["factor"], level["shares"]
        )
    checklist = protocol.protocol(
        n_samples=tables.n,
        runs=[run.cell() for run in runs],
        convergence_cells=convergence_cells,
        mechanism=mechanism,
        collapses=collapses,
        margin=margin,
        clipping=clipping,
        tuning=tuning,
        tune_runs=tuning_runs(sweep_dir, record and record["tune_ids"]),
        families=families,
    )
    if record is not None:  # a directory written by priorlab compare: checked against it
        checklist["checks"].insert(0, completeness.check(record))
        checklist["exploratory"] = checklist["exploratory"] or not checklist["checks"][0]["ok"]
    verdict = wording.headline(families, metric, skipped[metric])
    final_pass1 = tables.final["pass@1"].mean(axis=1)
    report = {
        "n_samples": tables.n,
        "n_problems": len(tables.problem_ids),
        "ks": tables.ks,
        "n_boot": n_boot,
        "seed": seed,
        "runs": [run.cell() for run in runs],
        "headline": headline,
        "variance": variance,
        "variance_rl": variance_rl,
        "verdict": verdict,
        "verdict_line": completeness.prefix(record) + wording.verdict_line(verdict, checklist),
        "completeness": record and {k: v for k, v in record.items() if not k.endswith("_ids")},
        "protocol": checklist,
        "verdict_vs_budget": diagnostics.verdict_vs_budget(runs, summaries),
        "levels": levels,
        "pairwise": pairwise,
        "pass_at_k": sections.pass_at_k(tables),
        "selection": sections.selection(tables),
        "entropy": sections.entropy(points),
        "learning_curves": sections.learning_curves(runs),
        "reward_vs_accuracy": sections.reward_vs_accuracy(runs),
        "clipping": clipping,
        "run_status": run_status,
        "convergence_cells": convergence_cells,
        "ceiling": ceiling,
        "support": support.support(runs, seed=seed, n_boot=n_boot),
        "ceiling_lines": [fam["line"] for fam in ceiling["families"]],
        "mechanism": mechanism,
        "status_counts": diagnostics.status_counts(run_status),
        "tuning": tuning,
        "margin": margin,
        "metric": metric,
        "inference": families,
        "verdict_lines": lines_by_metric[metric],
        "inference_by_metric": by_metric,
        "verdict_lines_by_metric": lines_by_metric,
        "inference_skipped": skipped,
        "collapses": collapses,
        "legacy": {
            "sections": list(LEGACY),
            "eta2_verdict": wording.eta2_verdict(variance["shares"]),
            "why": LEGACY_WHY,
        },
        "entropy_law": entropy_law(runs, final_pass1),
    }
    report = _clean(report)
    text = json.dumps(report, sort_keys=True, indent=2) + "\n"
    with matplotlib.rc_context({"text.parse_math": False}):  # a label's $ is a dollar
        has_curves = any(row["points"] for row in report["learning_curves"])
        drawn = [
            figures.equivalence_intervals(report["inference"], report["margin"]),
            figures.gains_by_prior(report["inference"]),
            figures.headline_bars(report["headline"]),
            figures.pass_at_k_curves(report["pass_at_k"]),
            figures.entropy_scatter(points, report["entropy"]) if points else None,
            figures.learning_curves(report["learning_curves"]) if has_curves else None,
            figures.variance_bars(
                {"all algorithms": report["variance"], "RL only": report["variance_rl"]}
            ),
        ]
        pictures = [(fig_id, caption, png) for (fig_id, caption), png in zip(FIGURES, drawn)]
        budget = report["verdict_vs_budget"]
        if budget and any(v is not None for p in budget["points"] for v in p["shares"].values()):
            pictures.insert(-1, (*BUDGET_FIGURE, figures.budget_shares(budget)))  # eta² stays last
        dev = {run.run_id: diagnostics.dev_points(summaries[run.run_id]) for run in runs}
        for caption, png in [
            (ceiling_figures.CURVES, ceiling_figures.curves(report["ceiling"], dev)),
            (ceiling_figures.SCATTER, ceiling_figures.scatter(report["ceiling"])),
            (support_figures.CURVES, support_figures.curves(report["support"])),
        ]:
            if png is not None:
                pictures.insert(-1, (*caption, png))
    _write_set(
        sweep_dir,
        {
            "report.json": text,
            "report.md": render_md.markdown(report),
            "report.html": render.page(report, pictures[N_LEADING:], leading=pictures[:N_LEADING]),
        },
    )
    return report


def _with_collapses(rows: list[dict], collapses: list[dict]) -> list[dict]:
    """run_status with each run's change from its prior as the report tests it (margin, Holm
    across the sweep: collapse.collapses) in place of the unadjusted one train wrote."""
    by_id = {row["run_id"]: row for row in collapses}
    out = []
    for row in rows:
        found = by_id.get(row["run_id"])
        if found is not None:
            ci = None if found["lo"] is None else [found["lo"], found["hi"]]
            row = row | {"vs_prior": found["status"], "gain": found["gain"], "gain_ci": ci}
            row["collapse_p_holm"] = found["p_holm"]
        out.append(row)
    return out


def _write_set(sweep_dir: Path, files: dict[str, str]) -> None:
    """All files rendered before any is written, then each written and renamed in turn: a
    failure while rendering leaves the old set whole; report.json is renamed last, so a
    crash between renames leaves a report.json no newer than its md and html. (Temporary
    names are unique per process: sweep processes may race here.)"""
    # An ExitStack leaves its contexts last-in first-out: report.json, entered first, is
    # renamed last; a failure in a write or a rename removes the temporary files not yet
    # renamed.
    with contextlib.ExitStack() as stack:
        for name, text in sorted(files.items(), key=lambda item: item[0] != "report.json"):
            stack.enter_context(atomic_path(sweep_dir / name)).write_text(text)
