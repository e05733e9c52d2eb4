"""Is the protocol good enough for the verdict? Tune runs left out, clip fractions, run
status, tuning record, the verdict against the budget and the checklist, on the synthetic
sweeps of conftest.py (write_sweep with and without the protocol's records, write_sound_sweep)."""

import json
import re

import numpy as np
import pytest

from priorlab.convergence import plateau
from priorlab.errors import DataError, PriorlabError
from priorlab.report import FIGURES, build_report, finished_runs, tuning_runs
from priorlab.report.diagnostics import clipping, verdict_vs_budget
from priorlab.report.load import Run
from priorlab.report.protocol import ADVICE, protocol
from priorlab.report.stats import anova_shares

from .conftest import (
    CHOSEN,
    LRS,
    RULE,
    dev_pass1,
    dev_samples,
    summary,
    write_sound_sweep,
    write_sweep,
)

CHECKS = [
    "tuned", "converged", "clipping active", "mechanism acted", "seeds", "no collapse", "large k",
    "powered",
]  # fmt: skip
# sections that read only the final runs' samples and training logs: as without tuning
UNCHANGED = [
    "runs", "headline", "variance", "variance_rl", "verdict", "levels", "pairwise",
    "pass_at_k", "selection", "entropy", "learning_curves", "reward_vs_accuracy",
    "margin", "inference", "verdict_lines", "entropy_law", "collapses", "legacy",
]  # fmt: skip


def check(report, name):
    (found,) = [c for c in report["protocol"]["checks"] if c["name"] == name]
    return found


def write_log(path, rows):
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_tune_runs_are_left_out_of_every_analysis(protocol_sweep, protocol_report, report):
    # the tune runs share seed 0 with final runs and solve every one of only 3 problems:
    # were they read, the report would fail or its numbers would change
    for key in UNCHANGED:
        assert protocol_report[key] == report[key], key
    runs = finished_runs(protocol_sweep)
    assert len(runs) == 12 and {run.phase for run in runs} == {"final"}
    tune = tuning_runs(protocol_sweep)
    assert len(tune) == 11  # 2 algos x 2 priors x 3 learning rates, one crashed
    assert {run.phase for run in tune} == {"tune"} and tune[0].params == {"lr": LRS[0]}
    assert tuning_runs(protocol_sweep.parent / "nowhere") == []
    assert runs[0].params == {"lr": CHOSEN[("ei", "A")]} and runs[0].reward == "verifier"


def test_only_tune_runs_done_is_a_user_error(protocol_sweep, tmp_path):
    write_sweep(tmp_path, protocol=True)
    for run in (tmp_path / "runs").iterdir():
        if not run.name.startswith("tune-"):
            (run / "summary.json").unlink(missing_ok=True)
    with pytest.raises(PriorlabError, match="no finished runs.*11 tuning runs are done"):
        finished_runs(tmp_path)


def test_an_unknown_phase_names_the_file(tmp_path):
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    cell = {"run_id": "r1", "algo": "grpo", "prior": "A", "seed": 0, "phase": "warmup"}
    (run / "cell.json").write_text(json.dumps(cell))
    (run / "summary.json").write_text("{}")
    with pytest.raises(DataError, match=r"cell.json: phase='warmup'; valid: \['tune', 'final'\]"):
        finished_runs(tmp_path)


def test_clipping_hand_computed(tmp_path, protocol_report):
    write_log(tmp_path / "r1", [
        {"step": 1, "reward/mean": 0.1, "policy/clipfrac_low": 0.1, "policy/clipfrac_high": 0.0,
         "policy/clipfrac": 0.1, "policy/updates": 4},
        {"step": 2, "reward/mean": 0.2, "policy/clipfrac_low": 0.3, "policy/clipfrac_high": 0.2,
         "policy/clipfrac": 0.5, "policy/updates": 2},
    ])  # fmt: skip
    write_log(tmp_path / "r2", [
        {"step": 1, "reward/mean": 0.1, "policy/clipfrac_low": 0.0, "policy/clipfrac_high": 0.4,
         "policy/clipfrac": 0.4},
        {"step": 2, "reward/mean": 0.3},  # a step that logs no clip fraction: not a zero
    ])  # fmt: skip
    write_log(tmp_path / "r3", [{"step": 1, "reward/mean": 0.1, "policy/updates": 1}])
    write_log(tmp_path / "r4", [{"step": 1, "reward/mean": 0.1, "policy/clipfrac": 0.0}])
    runs = [Run("grpo", "A", s, f"r{s}", tmp_path / f"r{s}") for s in (1, 2)]
    runs += [Run("ei", "A", 0, "r3", tmp_path / "r3"), Run("dapo", "A", 0, "r4", tmp_path / "r4")]
    dapo, ei, grpo = clipping(runs)
    # r1: low (0.1 + 0.3) / 2 = 0.2, high 0.1, total 0.3; r2: 0, 0.4, 0.4; then over runs
    assert grpo["n_runs"] == 2 and grpo["active"] is True
    assert grpo["clipfrac_low"] == pytest.approx(0.1)
    assert grpo["clipfrac_high"] == pytest.approx(0.25)
    assert grpo["clipfrac"] == pytest.approx(0.35)
    assert grpo["updates"] == pytest.approx(3.0)  # r1 only
    assert ei == {"algo": "ei", "n_runs": 0, "clipfrac_low": None, "clipfrac_high": None,
                  "clipfrac": None, "updates": 1.0, "active": None}  # fmt: skip
    assert dapo["active"] is False
    cells = [run.cell() for run in runs]
    kwargs = {"convergence_cells": [], "collapses": [], "margin": 0.02, "tuning": None}
    kwargs |= {"mechanism": []}
    kwargs |= {"tune_runs": [], "families": []}
    result = protocol(n_samples=4, runs=cells, clipping=[dapo, ei, grpo], **kwargs)
    assert result["checks"][2] == {
        "name": "clipping active", "ok": False, "detail": "the clip never binds for dapo",
    }  # fmt: skip
    # on the protocol sweep: grpo's rows of conftest.clip_row, ei logs updates only
    rows = {row["algo"]: row for row in protocol_report["clipping"]}
    assert rows["grpo"]["clipfrac_low"] == pytest.approx(0.025)
    assert rows["grpo"]["clipfrac_high"] == pytest.approx(0.055)  # seeds 0 and 1: 0.05, 0.06
    assert rows["grpo"]["clipfrac"] == pytest.approx(0.08) and rows["grpo"]["n_runs"] == 4
    assert rows["ei"]["active"] is None and rows["ei"]["updates"] == 1.0
    assert rows["sft"]["active"] is None and rows["sft"]["updates"] is None


def test_run_status_is_recomputed_from_the_curve_and_the_samples(protocol_report):
    status = {row["run_id"]: row for row in protocol_report["run_status"]}
    collapse = {row["run_id"]: row for row in protocol_report["collapses"]}
    # the stored blocks say "converged" and "gained": the curve rises 20 points over the
    # 5-point window and the samples say what they say
    expected = plateau(summary("grpo", "A", 0)["dev"]["curve"], tol=0.01)
    row = status["grpo-A-s0"]
    assert row["convergence"] == expected["status"] == "improving"
    assert row["change"] == pytest.approx(expected["change"], abs=1e-6)
    assert row["ci"] == pytest.approx(expected["ci"], abs=1e-6) and row["tol"] == 0.01
    assert row["vs_prior"] == collapse["grpo-A-s0"]["status"]
    assert row["gain"] == pytest.approx(collapse["grpo-A-s0"]["gain"], abs=1e-6)
    # sft checks dev at 4 points only; a run that stored no convergence block is judged too
    assert status["sft-B-s0"]["convergence"] == "too few points"
    assert status["sft-B-s1"]["vs_prior"] == "collapsed" and collapse["sft-B-s1"]["collapsed"]
    counts = protocol_report["status_counts"]
    for algo, by_status in counts.items():
        runs = [r for r in protocol_report["run_status"] if r["algo"] == algo]
        assert sum(by_status[s] for s in ("gained", "unchanged", "collapsed")) == len(runs)
    assert counts["sft"]["too few points"] == 4 and counts["sft"]["collapsed"] == 1


def test_a_collapsed_run_is_flagged_in_md_and_html(protocol_sweep, protocol_report):
    md = (protocol_sweep / "report.md").read_text()
    page = (protocol_sweep / "report.html").read_text()
    row = {r["run_id"]: r for r in protocol_report["run_status"]}["sft-B-s1"]
    lo, hi = row["gain_ci"]
    gain = f"{row['gain']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    assert row["gain"] == pytest.approx(-1.25 / 6, abs=1e-6)  # 1 of 4 lost on 5 of 6 problems
    status = md[md.index("## Run status") :]  # the ceiling fits list runs by id too
    line = next(line for line in status.splitlines() if line.startswith("| sft-B-s1 |"))
    assert line.endswith(f"| collapsed | {gain} | COLLAPSED below its prior |")
    warning = f"COLLAPSED below its prior:** sft on B, seed 1 (sft-B-s1; gain {gain})"
    assert f"**{warning}" in md and md.index(warning) < md.index("## Headline")
    assert "Holm across the sweep's 12 runs" in md
    alert = '<p class="alert" id="collapsed">COLLAPSED below its prior: sft on B, seed 1 (sft-B-s1'
    assert alert in page
    assert '<td class="alert">COLLAPSED below its prior</td>' in page
    assert page.count("COLLAPSED below its prior</td>") == 1


def test_tuning_is_read_from_selection_json(protocol_sweep, protocol_report):
    tuning = protocol_report["tuning"]
    assert [(t["algo"], t["prior"], t["reward"]) for t in tuning] == [
        ("ei", "A", "verifier"),
        ("ei", "B", "verifier"),
        ("grpo", "A", "verifier"),
        ("grpo", "B", "verifier"),
    ]  # fmt: skip; one entry per cell although both seeds hold a selection.json
    grpo_b = tuning[3]
    assert grpo_b["chosen"] == {"lr": CHOSEN[("grpo", "B")]} and grpo_b["score"] == 0.5
    assert grpo_b["rule"] == RULE
    assert grpo_b["candidates"][2] == {
        "run_id": "tune-grpo-B-lr2", "params": {"lr": 1e-3}, "seed": 0, "score": None,
        "se": None, "status": "failed",
    }  # fmt: skip
    assert [c["score"] for c in grpo_b["candidates"][:2]] == [0.4, 0.5]
    # the se of a score: its tune run's dev points in the window (the fixture's: 0.02)
    assert [c["se"] for c in grpo_b["candidates"][:2]] == [pytest.approx(0.02)] * 2
    # ei on B and grpo on A chose an end of the grid, 10 points above its neighbour
    assert [[e["side"] for e in t["edges"]] for t in tuning] == [[], ["top"], ["bottom"], []]
    assert [e["beyond"] for t in tuning for e in t["edges"]] == [True, True]
    md = (protocol_sweep / "report.md").read_text()
    assert "| grpo | B | verifier | lr=0.0003 | 0 | 0.500 | 0.020 | done | chosen |" in md
    assert "| grpo | B | verifier | lr=0.001 | 0 | n/a | n/a | failed |  |" in md
    assert "| 0.500 | 0.020 | done | chosen; lr top edge, beyond noise |" in md


def test_verdict_vs_budget_is_the_variance_anova_on_dev_pass1(protocol_sweep, protocol_report):
    section = protocol_report["verdict_vs_budget"]
    assert section["n_runs"] == 12 and section["without_dev"] == []
    # grpo and ei check every 16 completions, sft at 24 and 48: every checkpoint of any run
    assert [p["samples"] for p in section["points"]] == [0, 16, 24, 32, 48, 64]
    runs = protocol_report["runs"]
    algo, prior = [r["algo"] for r in runs], [r["prior"] for r in runs]
    for point in section["points"]:
        b = point["samples"]
        last = {a: max(s for s in dev_samples(a) if s <= b) for a in algo}  # its last point
        y = [dev_pass1(r["algo"], r["prior"], r["seed"], last[r["algo"]]) for r in runs]
        expected = anova_shares(y, algo, prior, rng=np.random.default_rng(0), n_boot=10)
        for term, share in point["shares"].items():
            assert share == pytest.approx(expected["shares"][term]["share"], abs=1e-6), (b, term)
        assert point["mean"] == pytest.approx(np.mean(y), abs=1e-6)
    # at 0 every run is its prior: the algorithm explains nothing yet
    assert section["points"][0]["shares"]["algo"] == pytest.approx(0.0, abs=1e-6)
    assert section["points"][-1]["shares"]["algo"] > 0.2
    page = (protocol_sweep / "report.html").read_text()
    ids = re.findall(r'<img id="([^"]+)" alt="[^"]+" src="data:image/png;base64,', page)
    extra = ["fig-budget", "fig-ceiling-curves", "fig-support-curves"]  # ceiling: dev curves
    assert ids == [fig_id for fig_id, _ in FIGURES[:-1]] + extra + ["fig-variance"]
    assert "## Verdict against the budget" in (protocol_sweep / "report.md").read_text()


def test_verdict_vs_budget_hand_computed(tmp_path):
    """Dev pass@1 0.2 on prior P and 0.4 on Q at every checkpoint: the prior explains all.
    A run without a dev curve is left out; a run that stops at 20 ends the budgets there."""
    runs, summaries = [], {}
    for i, (algo, prior, seed) in enumerate(
        [(a, p, s) for a in "ab" for p in "PQ" for s in (0, 1)] + [("a", "P", 2)]
    ):
        run_id = f"r{i}"
        runs.append(Run(algo, prior, seed, run_id, tmp_path))
        value = 0.2 if prior == "P" else 0.4
        ends = 20 if run_id == "r1" else 30
        curve = [{"samples": s, "pass@1": value, "se": 0.0} for s in (0, 10, ends)]
        summaries[run_id] = {"dev": {"curve": curve}} if run_id != "r8" else {}
    section = verdict_vs_budget(runs, summaries)
    assert section["n_runs"] == 8 and section["without_dev"] == ["r8"]
    assert [p["samples"] for p in section["points"]] == [0, 10, 20]
    for point in section["points"]:
        assert point["mean"] == pytest.approx(0.3)
        assert point["shares"] == pytest.approx(
            {"algo": 0.0, "prior": 1.0, "interaction": 0.0, "seed": 0.0}, abs=1e-9
        )
    assert verdict_vs_budget(runs[:2], {"r0": {}, "r1": {"dev": {"curve": []}}}) is None


def test_protocol_checklist_of_an_exploratory_sweep(protocol_sweep, protocol_report):
    checklist = protocol_report["protocol"]
    assert [c["name"] for c in checklist["checks"]] == CHECKS
    oks = [False, False, True, True, False, False, False, False]
    assert [c["ok"] for c in checklist["checks"]] == oks
    # the fixture's ei logs no rounds: nothing fine-tunes in rounds
    mechanism = check(protocol_report, "mechanism acted")
    assert mechanism["detail"] == "no algorithm fine-tunes in rounds"
    tuned = check(protocol_report, "tuned")["detail"]
    assert tuned.startswith(
        "lr over 3 values, 1 seed per candidate, 4 algo x prior x reward cells, "
        "1 candidate failed (rule: "
    )
    # the fixture's tune runs: se 0.02 each, so a 10-point lead is z = 3.5 (Holm over 8 ends)
    assert tuned.endswith(
        "the best value lies at the grid's edge and beats its neighbour beyond noise "
        "(one-sided z on dev, Holm across the 8 grid ends): ei/B lr 0.001 (top of 3, +10.0 "
        "points over 0.0003, se 2.8, p_holm 0.002), grpo/A lr 0.0001 (bottom of 3, +10.0 "
        "points over 0.0003, se 2.8, p_holm 0.002): widen the grid past it"
    )
    # grpo and ei rise over their 5-point windows, sft has 4 dev points
    assert check(protocol_report, "converged")["detail"].startswith(
        "0 of 6 method x prior cells converged"
    )
    assert check(protocol_report, "seeds")["detail"].startswith("2 seeds per cell")
    assert "sft-B-s1" in check(protocol_report, "no collapse")["detail"]
    assert check(protocol_report, "large k")["detail"].startswith("n = 4 ")
    assert check(protocol_report, "powered")["detail"].startswith(
        "a truly equal pair is declared equivalent within ±2 points (Holm's first step; 80% "
        "needed): all "
    )
    assert checklist["exploratory"] is True
    verdict = protocol_report["verdict"]
    assert verdict.startswith("1 of 1 pairs ") and verdict.endswith("(80% needed)")
    prefix = "exploratory (fails: tuned, converged, seeds, no collapse, large k, powered): "
    assert protocol_report["verdict_line"] == prefix + verdict
    md = (protocol_sweep / "report.md").read_text()
    page = (protocol_sweep / "report.html").read_text()
    assert f"**Verdict:** {prefix}{verdict}." in md and f"{ADVICE}." in md
    assert "- [ ] **seeds** (FAIL): 2 seeds per cell" in md
    assert "- [ ] **tuned** (FAIL): lr over 3 values" in md
    assert md.index("**Verdict:**") < md.index("- [ ] **seeds**") < md.index("## Headline")
    assert "## Convergence per method x prior" in md
    assert f'id="verdict">{prefix}' in page and '<ul class="protocol" id="protocol">' in page
    assert '<li class="fail"><span class="mark">\u2717 FAIL</span> <b>seeds</b>' in page
    text = (protocol_sweep / "report.json").read_bytes()
    build_report(protocol_sweep, n_boot=200, seed=0)
    assert (protocol_sweep / "report.json").read_bytes() == text


def test_powered_asks_whether_a_truly_equal_pair_could_be_called_equivalent():
    from priorlab.report.protocol import powered

    def fam(name, prob):
        p = {"pair": "x - y", "se": 0.004, "equivalence": prob, "powered": prob >= 0.8}
        return {"family": name, "power": p}

    fams = [fam("a", 0.93), fam("b", 0.41), {"family": "c", "power": None}]
    out = powered(fams, 0.02)
    assert out["ok"] is False
    assert out["detail"] == (
        "a truly equal pair is declared equivalent within ±2 points (Holm's first step; 80% "
        "needed): a 93% (noisiest pair x - y, se 0.40 points), b 41% (noisiest pair x - y, "
        "se 0.40 points)"
    )
    assert powered(fams[:1], 0.02)["ok"] is True
    assert powered(fams[2:], 0.02)["ok"] is None


def test_a_sound_sweep_is_not_exploratory(tmp_path):
    write_sound_sweep(tmp_path)
    report = build_report(tmp_path, n_boot=50)
    assert [c["ok"] for c in report["protocol"]["checks"]] == [True] * len(CHECKS)
    assert report["protocol"]["exploratory"] is False
    assert report["verdict_line"] == report["verdict"]
    assert check(report, "seeds")["detail"].startswith("5 seeds per cell")
    assert check(report, "converged")["detail"].startswith("4 of 4 method x prior cells converged")
    md = (tmp_path / "report.md").read_text()
    assert f"**Verdict:** {report['verdict']}." in md and "exploratory (fails" not in md
    assert "- [x] **large k** (ok): n = 256" in md and "COLLAPSED" not in md


def test_old_runs_without_the_new_records_give_nulls(sweep, report):
    assert report["tuning"] is None and report["verdict_vs_budget"] is None
    assert all(row["active"] is None and row["clipfrac"] is None for row in report["clipping"])
    assert [row["algo"] for row in report["clipping"]] == ["ei", "grpo", "sft"]
    # no dev curve: no convergence; the change from the prior comes from the samples
    assert all(row["convergence"] is None for row in report["run_status"])
    assert all(row["vs_prior"] is not None for row in report["run_status"])
    assert all(cell["status"] is None for cell in report["convergence_cells"])
    assert [c["ok"] for c in report["protocol"]["checks"]] == [
        False, None, None, True, False, False, False, False,
    ]  # fmt: skip
    assert report["verdict_line"].startswith(
        "exploratory (fails: tuned, converged, clipping active, seeds, no collapse, large k, "
        "powered): "
    )
    md = (sweep / "report.md").read_text()
    assert "- [ ] **converged** (not measured):" in md
    assert "| grpo | 0 | n/a | n/a | n/a | n/a | not measured |" in md
    assert "## Tuning" not in md and "## Verdict against the budget" not in md


def test_many_collapsed_runs_are_counted_per_algorithm_and_prior():
    from priorlab.report.protocol import collapse_list

    row = {"run_id": "r", "gain": -0.1, "gain_ci": [-0.2, -0.05]}
    rows = [{**row, "algo": "rcrl", "prior": "weak"}] * 5 + [
        {**row, "algo": "rcrl", "prior": "strong"},
        {**row, "algo": "grpo", "prior": "strong"},
    ]
    assert collapse_list(rows) == (
        "7 runs: rcrl 6 (strong 1, weak 5), grpo 1 (strong 1) (each in the run status table)"
    )
