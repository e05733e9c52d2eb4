"""The per-level report on a synthetic sweep whose cells come from tests/experiments/levels.yaml:
the algorithm level's method sets pass@1, the refinement and reward levels' methods do not."""

import json
from pathlib import Path

import pytest

from priorlab.errors import DataError
from priorlab.experiments import expand, load_spec
from priorlab.report import build_report, finished_runs

from .conftest import PROBLEMS, samples_table

SPEC = Path(__file__).parents[1] / "experiments" / "levels.yaml"


def final_counts(algo: str, prior: str, seed: int) -> list[int]:
    """Correct samples (of 4) per problem: ei ~0 and ppo ~3 on both priors; grpo, dapo and
    the random reward all ~1 on prior A and ~3 on prior B; seed s adds one to s + 1 problems."""
    base = {"ei/verifier": 0, "ppo/verifier": 3}.get(algo, 1 if prior == "A" else 3)
    return [min(4, base + (j <= seed)) for j in range(len(PROBLEMS))]


@pytest.fixture(scope="module")
def levels_sweep(tmp_path_factory):
    """Each run job of the spec written as the worker would, with synthetic samples."""
    root = tmp_path_factory.mktemp("levels")
    for job in expand(load_spec(SPEC)).runs:
        run = root / "runs" / job.id
        run.mkdir(parents=True)
        (run / "cell.json").write_text(json.dumps({"run_id": job.id, **job.labels}))
        labels = job.labels
        samples_table([1] * len(PROBLEMS), 1.0).to_parquet(run / "samples_initial.parquet")
        final = final_counts(labels["algo"], labels["prior"], labels["seed"])
        samples_table(final, 0.5).to_parquet(run / "samples_final.parquet")
        (run / "summary.json").write_text("{}")
    return root


@pytest.fixture(scope="module")
def levels_report(levels_sweep):
    return build_report(levels_sweep, n_boot=200, seed=0)


def level(report, name):
    (found,) = [row for row in report["levels"] if row["level"] == name]
    return found


def test_each_level_decomposes_its_own_runs(levels_report):
    assert [row["level"] for row in levels_report["levels"]] == [
        "algorithm",
        "refinement",
        "reward",
    ]
    reward = level(levels_report, "reward")
    assert reward["factor"] == "reward" and reward["methods"] == ["random", "verifier"]
    assert all(row["n_runs"] == 8 for row in levels_report["levels"])  # grpo+verifier twice
    assert len(levels_report["runs"]) == 20


def test_a_method_that_matters_gets_a_large_share_one_that_does_not_a_small_one(levels_report):
    algorithm = level(levels_report, "algorithm")["shares"]
    assert algorithm["method"]["share"] > 0.9 and algorithm["prior"]["share"] < 0.05
    assert algorithm["method"]["lo"] > 0.8
    for name in ("refinement", "reward"):
        shares = level(levels_report, name)["shares"]
        assert shares["method"]["share"] < 0.05 and shares["method"]["hi"] < 0.2
        assert shares["prior"]["share"] > 0.9
    for row in levels_report["levels"]:
        total = sum(row["shares"][t]["share"] for t in ("method", "prior", "interaction", "seed"))
        assert total == pytest.approx(1.0, abs=1e-6)  # balanced design: Type II SS add up


def test_level_verdicts_and_table_in_json_md_and_html(levels_sweep, levels_report):
    verdict = level(levels_report, "reward")["verdict"]
    assert verdict.startswith("reward: the reward source explains 0% [")
    assert "of the variance in pass@1, the prior 9" in verdict
    assert level(levels_report, "algorithm")["verdict"].startswith(
        "algorithm: the algorithm explains 100% ["
    )
    assert "-0%" not in level(levels_report, "algorithm")["verdict"]
    text = (levels_sweep / "report.json").read_bytes()
    build_report(levels_sweep, n_boot=200, seed=0)
    assert (levels_sweep / "report.json").read_bytes() == text
    md = (levels_sweep / "report.md").read_text()
    page = (levels_sweep / "report.html").read_text()
    assert "| level | varies | runs | method | prior | interaction | seed |" in md
    assert "| reward | reward | 8 | 0.000 [" in md
    assert md.index("## Levels") < md.index("## Variance")  # right after the headline
    assert '<ul class="levels" id="level-verdicts">' in page
    assert "<th>level</th><th>varies</th><th>runs</th><th>method</th>" in page
    for row in levels_report["levels"]:
        assert f"- {row['verdict']}." in md and f"<li>{row['verdict']}.</li>" in page


def test_a_sweep_without_levels_has_no_level_section(sweep, report):
    assert report["levels"] == []
    assert "Per level" not in (sweep / "report.md").read_text()
    assert "level-verdicts" not in (sweep / "report.html").read_text()


def test_malformed_levels_in_a_cell_name_the_file(tmp_path):
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    cell = {"run_id": "r1", "algo": "grpo", "prior": "A", "seed": 0, "levels": {"x": "grpo"}}
    (run / "cell.json").write_text(json.dumps(cell))
    (run / "summary.json").write_text("{}")
    with pytest.raises(DataError, match=r"cell.json: `levels` must map"):
        finished_runs(tmp_path)


def test_each_level_is_a_family_of_the_inference_on_the_gain(levels_report):
    families = {fam["family"]: fam for fam in levels_report["inference"]}
    assert list(families) == ["algorithm", "refinement", "reward"]
    assert families["reward"]["methods"] == ["random", "verifier"]
    (pair,) = families["algorithm"]["pairs"]
    assert pair["outcome"] == "different" and pair["sign"] == "ei < ppo"
    assert pair["diff"] == pytest.approx(-0.75)  # ei ~0 of 4, ppo ~3 of 4, same prior draws
    for name in ("refinement", "reward"):
        assert [p["outcome"] for p in families[name]["pairs"]] == ["equivalent"]
    # dapo and grpo gain the same on every problem: se 0, equivalent for certain
    assert levels_report["verdict_lines"][1] == (
        "refinement: 0 pairs different, 1 equivalent within ±2 points, 0 inconclusive; a truly "
        "equal pair is called equivalent 100% of the time, detectable difference 0.0 points "
        "(noisiest pair dapo - grpo, Holm's first step); gain 31.2 points; partial omega² of "
        "the gain: method 0%, prior 99%"
    )
