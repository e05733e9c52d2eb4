"""Tests for priorlab.report.build_report on the synthetic sweep of conftest.py."""

import json
import math

import numpy as np
import pytest

from priorlab.errors import PriorlabError
from priorlab.metrics import pass_at_k
from priorlab.report import build_report, finished_runs, run_metrics
from priorlab.report.stats import holm
from priorlab.samples import load_samples

from .conftest import ENTROPY_A, ENTROPY_B, FINAL, INITIAL, N, samples_table, write_sweep

SECTIONS = {
    "n_samples", "n_problems", "ks", "n_boot", "seed", "runs", "headline", "variance",
    "variance_rl", "verdict", "levels", "pairwise", "pass_at_k", "selection", "entropy",
    "learning_curves", "reward_vs_accuracy", "verdict_line", "protocol", "verdict_vs_budget",
    "clipping", "run_status", "status_counts", "tuning", "margin", "inference", "verdict_lines",
    "collapses", "legacy", "convergence_cells",
    "entropy_law", "completeness", "metric", "inference_by_metric", "verdict_lines_by_metric",
    "inference_skipped", "mechanism", "ceiling", "ceiling_lines", "support",
}  # fmt: skip


def row(rows, **match):
    (found,) = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return found


def test_report_files_and_determinism(sweep, report):
    text = (sweep / "report.json").read_bytes()
    assert set(json.loads(text)) == SECTIONS == set(report)
    assert str(sweep).encode() not in text  # no absolute paths
    build_report(sweep, n_boot=200, seed=0)
    assert (sweep / "report.json").read_bytes() == text
    md = (sweep / "report.md").read_text()
    assert report["verdict"] in md and "| grpo | A |" in md and "RL only" in md


def test_runs_skip_unfinished(report):
    assert len(report["runs"]) == len(FINAL)
    assert "zz-running" not in {r["run_id"] for r in report["runs"]}
    assert report["runs"][0] == {"run_id": "ei-A-s0", "algo": "ei", "prior": "A", "seed": 0}


def test_no_finished_runs_is_a_user_error(tmp_path):
    with pytest.raises(PriorlabError, match="no finished runs"):
        build_report(tmp_path)
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    with pytest.raises(PriorlabError, match="summary.json"):
        build_report(tmp_path)


def test_headline_cell_recomputed_from_parquet(sweep, report):
    per_run = []
    for seed in (0, 1):
        samples = load_samples(sweep / "runs" / f"grpo-A-s{seed}" / "samples_final.parquet")
        sampled = samples[~samples["greedy"]]
        counts = sampled.groupby("problem_id")["correct"].agg(["size", "sum"])
        per_run += [pass_at_k(int(n), int(c), 1) for n, c in counts.to_numpy()]
    cell = row(report["headline"], algo="grpo", prior="A")
    assert cell["pass@1"]["mean"] == pytest.approx(np.mean(per_run), abs=1e-6)
    assert cell["pass@1"]["lo"] <= cell["pass@1"]["mean"] <= cell["pass@1"]["hi"]
    assert cell["seeds"] == [0, 1]
    solved = np.mean([np.mean(np.array(FINAL[("grpo", "A", s)]) > 0) for s in (0, 1)])
    assert cell["pass@n"]["mean"] == pytest.approx(solved, abs=1e-6)
    prior_a = row(report["headline"], algo="prior", prior="A")
    expected = np.mean([c / N for s in (0, 1) for c in INITIAL[("A", s)]])
    assert prior_a["pass@1"]["mean"] == pytest.approx(expected, abs=1e-6)
    # sampled entropies are 0.5 + 0.1 i for i < N; the greedy row (9.0) is excluded
    assert cell["entropy"]["mean"] == pytest.approx(0.65, abs=1e-6)


def test_run_metrics_is_per_problem(sweep):
    table = run_metrics(sweep / "runs" / "ei-B-s1", "final")
    assert table["c"].tolist() == FINAL[("ei", "B", 1)]
    assert {"pass@1", f"pass@{N}", f"maj@{N}", "entropy"} <= set(table.columns)
    assert finished_runs(sweep)[0].run_id == "ei-A-s0"


def test_variance_shares_sum_to_one(report):
    for key in ("variance", "variance_rl"):
        shares = report[key]["shares"]
        assert sum(s["share"] for s in shares.values()) == pytest.approx(1.0, abs=1e-5)
    assert report["variance"]["n_runs"] == 12 and report["variance_rl"]["n_runs"] == 8
    assert report["legacy"]["eta2_verdict"].startswith("the algorithm explains ")


def test_pairwise_holm(report):
    pairs = report["pairwise"]
    assert [(p["a"], p["b"]) for p in pairs] == [("ei", "grpo"), ("ei", "sft"), ("grpo", "sft")]
    assert [p["p_holm"] for p in pairs] == pytest.approx(holm([p["p"] for p in pairs]), abs=1e-6)
    ei_grpo = pairs[0]
    diff = np.mean([
        (np.array(FINAL[("ei", pr, s)]) - np.array(FINAL[("grpo", pr, s)])) / N
        for pr in "AB" for s in (0, 1)
    ])  # fmt: skip
    assert ei_grpo["diff"] == pytest.approx(diff, abs=1e-6) and ei_grpo["n_pairs"] == 4


def test_selection_hand_computed(report):
    # seed 0: policy solves p0 p2 p3 p4 p5, prior p2 p3 p5; seed 1: policy same, prior p1 p2 p3 p5
    cell = row(report["selection"], algo="grpo", prior="A")
    assert cell["per_seed"] == [
        {"seed": 0, "solved": 5, "already_solved": 3, "new": 2},
        {"seed": 1, "solved": 5, "already_solved": 3, "new": 2},
    ]
    assert cell["share_already_solved"] == pytest.approx(0.6)
    assert cell["new_mean"] == pytest.approx(2.0)


def test_crossover_hand_computed(report):
    section = report["pass_at_k"]
    assert section["ks"] == [1, 2, 4]
    # prior B: seed 0 c = 1 everywhere -> (1/4, 1/2, 1); seed 1 five of six -> 5/6 of that
    assert section["prior"]["B"] == pytest.approx([11 / 48, 11 / 24, 11 / 12], abs=1e-6)
    # grpo/B solves whole problems (c = 4) only: pass@k = 1/2 and 2/3, mean 7/12 for every k
    grpo_b = row(section["curves"], algo="grpo", prior="B")
    assert grpo_b["pass@k"] == pytest.approx([7 / 12] * 3, abs=1e-6)
    assert grpo_b["crossover_k"] == 4
    assert row(section["curves"], algo="grpo", prior="A")["crossover_k"] is None


def test_entropy_fit_and_learning_curves(report):
    assert set(report["entropy"]) == {"grpo"}  # ei and sft log no entropy
    fit = report["entropy"]["grpo"]
    assert fit["a"] == pytest.approx(ENTROPY_A, abs=1e-5)
    assert fit["b"] == pytest.approx(ENTROPY_B, abs=1e-5)
    assert fit["r2"] == pytest.approx(1.0)
    assert fit["n_points"] == 16  # 4 runs x 4 rows; the row with a null entropy is skipped
    ei_a = row(report["learning_curves"], algo="ei", prior="A")["points"]
    assert [p["samples"] for p in ei_a] == [16, 32, 48, 64]
    assert ei_a[0]["accuracy"] == pytest.approx(0.6) and ei_a[0]["n_seeds"] == 2
    assert row(report["learning_curves"], algo="sft", prior="B")["points"] == []


def test_build_report_in_a_fresh_dir_matches(tmp_path, sweep):
    write_sweep(tmp_path)
    build_report(tmp_path, n_boot=200, seed=0)
    assert (tmp_path / "report.json").read_bytes() == (sweep / "report.json").read_bytes()


def test_degenerate_sweep_degrades_gracefully(tmp_path):
    """One prior, one seed, two algos (one compound, no training logs): nothing crashes."""
    write_sweep(tmp_path)
    for run in (tmp_path / "runs").iterdir():
        if run.name not in ("sft-A-s0", "grpo-A-s0"):
            (run / "summary.json").unlink(missing_ok=True)
    cell = json.loads((tmp_path / "runs" / "grpo-A-s0" / "cell.json").read_text())
    cell["algo"] = "ei/dense_steps"
    (tmp_path / "runs" / "grpo-A-s0" / "cell.json").write_text(json.dumps(cell))
    (tmp_path / "runs" / "grpo-A-s0" / "metrics.jsonl").unlink()
    report = build_report(tmp_path, n_boot=50)
    assert report["variance"]["terms"] == ["algo"]
    assert set(report["variance"]["dropped"]) == {"prior", "interaction"}
    assert report["variance"]["shares"]["algo"]["share"] == pytest.approx(1.0)
    assert report["variance_rl"]["n_runs"] == 1
    assert "prior n/a" in report["legacy"]["eta2_verdict"]
    assert report["verdict"] == "no family has two methods on shared cells: nothing to compare"
    assert [(p["a"], p["b"], p["n_pairs"]) for p in report["pairwise"]] == [
        ("ei/dense_steps", "sft", 1)
    ]
    assert report["entropy"] == {}
    page = (tmp_path / "report.html").read_text()
    # no pair to draw in fig-equivalence (one method), no entropy or learning curves; the
    # support curves are drawn (the runs have initial and final tables)
    assert page.count("<img ") == 5 and page.count("no data.") == 3


def test_run_metrics_without_a_greedy_column(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    table = samples_table([1, 2, 0, 0, 4, 3], 0.5)
    table[~table["greedy"]].drop(columns="greedy").to_parquet(run / "samples_final.parquet")
    metrics = run_metrics(run)
    assert metrics["c"].tolist() == [1, 2, 0, 0, 4, 3]
    assert metrics["entropy"].tolist() == pytest.approx([0.65] * 6)


def test_reward_beside_the_truth_flags_a_gamed_reward(sweep, report, tmp_path):
    from priorlab.report.load import Run
    from priorlab.report.sections import reward_vs_accuracy

    grpo = row(report["reward_vs_accuracy"], algo="grpo")
    first = [-ENTROPY_A * math.exp(0.2 + 0.05 * seed) + ENTROPY_B for seed in (0, 1)]
    assert grpo["n_runs"] == 4 and grpo["reward_first"] == pytest.approx(sum(first) / 2, abs=1e-5)
    assert grpo["accuracy_first"] == pytest.approx(grpo["reward_first"], abs=1e-5)
    assert grpo["diverges"] is False  # both fall together on this curve
    assert "ei" not in {r["algo"] for r in report["reward_vs_accuracy"]}  # logs no reward
    logs = {"gamed": [(0.1, 0.5), (0.2, 0.45), (0.9, 0.3)], "honest": [(0.1, 0.5), (0.6, 0.7)]}
    runs = []
    for name, points in logs.items():
        (tmp_path / name).mkdir()
        lines = [
            {"step": i, "reward/mean": r, "task/accuracy": a} for i, (r, a) in enumerate(points)
        ]
        (tmp_path / name / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        runs.append(Run(name, "A", 0, name, tmp_path / name))
    gamed, honest = reward_vs_accuracy(runs)
    assert (gamed["reward_first"], gamed["reward_last"]) == (0.1, 0.9)
    assert (gamed["accuracy_first"], gamed["accuracy_last"]) == (0.5, 0.3)
    assert gamed["diverges"] is True and honest["diverges"] is False
    assert "reward up, accuracy down" in (sweep / "report.md").read_text()
