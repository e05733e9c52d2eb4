"""Greedy accuracy (maj@1) beside sampled pass@1: stacked per run, families on either metric,
the verdict on the spec's `metric`. conftest's greedy row copies the first sample, so a
problem's greedy decode is correct iff its correct count c > 0."""

import json

import numpy as np
import pytest

from priorlab.errors import DataError
from priorlab.report import build_report, finished_runs
from priorlab.report.inference import families, skipped_families
from priorlab.report.load import Run, Tables, load_tables
from priorlab.report.protocol import powered
from priorlab.report.sweep_spec import read_metric
from priorlab.samples import load_samples

from .conftest import FINAL, INITIAL, write_sweep

HAVRILLA = "greedy accuracy (maj@1, the metric of Havrilla et al. 2024)"


def greedy_of(counts) -> list[float]:
    return [float(c > 0) for c in counts]


def drop_greedy(run_dir, stage: str = "final") -> None:
    """Rewrite a run's evaluation table without its greedy rows (as an older evaluate did)."""
    path = run_dir / f"samples_{stage}.parquet"
    samples = load_samples(path)
    samples[~samples["greedy"]].to_parquet(path)


def test_load_tables_stacks_greedy_and_nan_without_greedy_rows(tmp_path):
    write_sweep(tmp_path)
    drop_greedy(tmp_path / "runs" / "ei-A-s0")
    tables = load_tables(finished_runs(tmp_path))
    row = {run.run_id: i for i, run in enumerate(tables.runs)}
    i = row["grpo-B-s1"]
    assert tables.final["greedy"][i].tolist() == greedy_of(FINAL[("grpo", "B", 1)])
    assert tables.initial["greedy"][i].tolist() == greedy_of(INITIAL[("B", 1)])
    assert np.isnan(tables.final["greedy"][row["ei-A-s0"]]).all()
    assert tables.initial["greedy"][row["ei-A-s0"]].tolist() == greedy_of(INITIAL[("A", 0)])
    assert tables.lacking("greedy", range(len(tables.runs))) == ["ei-A-s0"]
    assert tables.lacking("pass@1", range(len(tables.runs))) == []
    # the family "all" holds ei-A-s0: skipped on greedy, with the reason; pass@1 untouched
    assert families(tables, margin=0.02, metric="greedy") == []
    (skipped,) = skipped_families(tables, metric="greedy")
    assert skipped["family"] == "all" and skipped["runs"] == ["ei-A-s0"]
    assert "1 of its 8 runs (ei-A-s0) lack a greedy decode of every problem" in skipped["reason"]
    assert [fam["family"] for fam in families(tables, margin=0.02)] == ["all"]
    assert skipped_families(tables, metric="pass@1") == []


def tiny_tables(final_greedy: dict, initial_greedy: dict) -> Tables:
    """Methods a, b x prior P x seeds 0, 1 on 3 problems; pass@1 flat at 0.5 (gain 0)."""
    runs = [Run(m, "P", s, f"{m}-s{s}", None) for m in "ab" for s in (0, 1)]
    flat = np.full((4, 3), 0.5)
    final = {"pass@1": flat, "greedy": np.array([final_greedy[r.run_id] for r in runs], float)}
    initial = {"pass@1": flat, "greedy": np.array([initial_greedy[r.seed] for r in runs], float)}
    return Tables(runs, ["q0", "q1", "q2"], 4, final, initial)


def test_family_on_greedy_by_hand():
    tables = tiny_tables(
        {"a-s0": [1, 1, 1], "a-s1": [1, 1, 0], "b-s0": [0, 1, 0], "b-s1": [1, 0, 1]},
        {0: [0, 1, 0], 1: [1, 0, 0]},
    )
    (fam,) = families(tables, margin=0.1, metric="greedy")
    # gains: a-s0 [1, 0, 1], a-s1 [0, 1, 0]; b-s0 [0, 0, 0], b-s1 [0, 0, 1]
    # D = gain_a - gain_b: s0 [1, 0, 1], s1 [0, 1, -1]: mean 2/6
    (pair,) = fam["pairs"]
    assert fam["metric"] == "greedy" and (pair["a"], pair["b"]) == ("a", "b")
    assert pair["diff"] == pytest.approx(1 / 3) and pair["n_cells"] == 2
    assert fam["gain"]["a"]["mean"] == pytest.approx(1 / 2)
    assert fam["gain"]["b"]["mean"] == pytest.approx(1 / 6)
    assert fam["prior_level"] == {"P": pytest.approx(1 / 3)}  # the prior's greedy accuracy
    (flat,) = families(tables, margin=0.1)  # the same runs on pass@1: no gain at all
    assert flat["metric"] == "pass@1" and flat["pairs"][0]["diff"] == 0
    with pytest.raises(ValueError, match="metric='maj@1'; valid: pass@1, greedy"):
        families(tables, margin=0.1, metric="maj@1")


def test_metric_from_the_sweep_spec(tmp_path):
    assert read_metric(tmp_path) == "pass@1"
    (tmp_path / "sweep.yaml").write_text("name: x\nmargin: 0.05\n")
    assert read_metric(tmp_path) == "pass@1"
    (tmp_path / "sweep.yaml").write_text("metric: greedy\n")
    assert read_metric(tmp_path) == "greedy"
    (tmp_path / "sweep.yaml").write_text("metric: maj@1\n")
    with pytest.raises(DataError, match=r"`metric` must be one of pass@1, greedy, got 'maj@1'"):
        read_metric(tmp_path)
    (tmp_path / "sweep.yaml").write_text("metric: [greedy]\n")
    with pytest.raises(
        DataError, match=r"`metric` must be one of pass@1, greedy, got \['greedy'\]"
    ):
        read_metric(tmp_path)


def _gain(algo: str) -> float:
    """An algo's greedy gain in "all": mean over its 4 cells and 6 problems (equal weights)."""
    cells = [(p, s) for p in "AB" for s in (0, 1)]
    return np.mean(
        [np.subtract(greedy_of(FINAL[(algo, p, s)]), greedy_of(INITIAL[(p, s)])) for p, s in cells]
    )


def test_report_carries_both_metrics_and_names_the_verdicts(sweep, report):
    assert report["metric"] == "pass@1"
    assert set(report["inference_by_metric"]) == {"pass@1", "greedy"}
    assert report["inference_by_metric"]["pass@1"] == report["inference"]
    assert report["verdict_lines_by_metric"]["pass@1"] == report["verdict_lines"]
    assert report["inference_skipped"] == {"pass@1": [], "greedy": []}
    assert " (all) on sampled pass@1; " in report["verdict"]
    (fam,) = report["inference_by_metric"]["greedy"]
    assert fam["metric"] == "greedy" and fam["methods"] == ["ei", "grpo"]
    assert fam["gain"]["ei"]["mean"] == pytest.approx(_gain("ei"), abs=1e-6)
    assert fam["pairs"][0]["diff"] == pytest.approx(_gain("ei") - _gain("grpo"), abs=1e-6)
    # the headline's greedy accuracy: mean over seeds and problems, with a bootstrap CI
    cell = next(r for r in report["headline"] if (r["algo"], r["prior"]) == ("grpo", "A"))
    by_hand = np.mean([greedy_of(FINAL[("grpo", "A", s)]) for s in (0, 1)])
    assert cell["greedy"]["mean"] == pytest.approx(by_hand, abs=1e-6)
    assert cell["greedy"]["lo"] <= by_hand <= cell["greedy"]["hi"]
    md, page = (sweep / "report.md").read_text(), (sweep / "report.html").read_text()
    assert "| algo | prior | seeds | pass@1 | greedy | maj@4 |" in md
    assert f"## Beside the verdict, on {HAVRILLA}. Gain over the prior per method" in md
    assert md.index("## Gain over the prior") < md.index("## Beside the verdict, on greedy")
    assert "beside the verdict, on the gain over the prior (points of greedy accuracy" in md
    assert 'id="inference-verdicts-greedy"' in page and f"Beside the verdict, on {HAVRILLA}" in page


def test_metric_greedy_switches_the_verdict(tmp_path, report):
    write_sweep(tmp_path)
    (tmp_path / "sweep.yaml").write_text("name: tiny\nmetric: greedy\n")
    greedy = build_report(tmp_path, n_boot=50, seed=0)
    assert greedy["metric"] == "greedy"
    assert greedy["inference"] == greedy["inference_by_metric"]["greedy"]
    assert greedy["inference_by_metric"]["pass@1"] == report["inference"]
    # ei vs grpo: different on pass@1, inconclusive on the noisier greedy decode
    assert report["verdict"].startswith("1 of 1 pairs different")
    expected = "0 of 1 pairs different, 0 equivalent within ±2 points, 1 inconclusive (all) on "
    assert greedy["verdict"].startswith(f"{expected}{HAVRILLA}; ")
    assert greedy["verdict_lines"] == greedy["verdict_lines_by_metric"]["greedy"]
    check = next(c for c in greedy["protocol"]["checks"] if c["name"] == "powered")
    assert check["detail"] == powered(greedy["inference"], 0.02)["detail"]
    md = (tmp_path / "report.md").read_text()
    assert "## Gain over the prior per method: points of greedy accuracy" in md
    assert "## Beside the verdict, on sampled pass@1. Gain over the prior" in md
    text = (tmp_path / "report.json").read_bytes()
    build_report(tmp_path, n_boot=50, seed=0)
    assert (tmp_path / "report.json").read_bytes() == text


def test_a_greedy_verdict_without_greedy_rows_says_why(tmp_path):
    write_sweep(tmp_path)
    drop_greedy(tmp_path / "runs" / "grpo-B-s1")
    (tmp_path / "sweep.yaml").write_text("metric: greedy\n")
    report = build_report(tmp_path, n_boot=50, seed=0)
    assert report["inference"] == [] and len(report["inference_by_metric"]["pass@1"]) == 1
    (skipped,) = report["inference_skipped"]["greedy"]
    assert skipped["runs"] == ["grpo-B-s1"]
    assert report["verdict"].startswith(f"nothing to compare on {HAVRILLA}: all: not measured on")
    assert "(grpo-B-s1) lack a greedy decode of every problem" in report["verdict"]
    assert report["verdict_lines"] == [report["verdict"].split(": ", 1)[1]]
    cell = next(r for r in report["headline"] if (r["algo"], r["prior"]) == ("grpo", "B"))
    assert cell["greedy"] is None and cell["pass@1"]["mean"] is not None
    md = (tmp_path / "report.md").read_text()
    assert f"## Families not measured on {HAVRILLA}" in md
    assert json.loads((tmp_path / "report.json").read_text())["metric"] == "greedy"
