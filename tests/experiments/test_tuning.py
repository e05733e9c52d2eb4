"""Equal tuning effort: spec validation, the jobs it expands to, the selection rule, and a
tuned sweep end to end (a diverging candidate fails, is recorded, and is never chosen)."""

import copy
import json
import subprocess

import pytest

from priorlab.errors import ConfigError
from priorlab.experiments import expand, run_sweep
from priorlab.experiments.store import Registry
from priorlab.experiments.tuning import choose, score
from tests.experiments.conftest import TINY, kill_9_sweep


def tuned(**tune):
    spec = copy.deepcopy(TINY)
    spec["algos"] = ["grpo", "rcrl"]
    spec["priors"] = spec["priors"][:1]
    spec["train"] = {**spec["train"], "dev_every": 32, "dev_problems": 4, "dev_samples": 2}
    spec["tune"] = {"seeds": [100], "grid": {"lr": [1e-4, 1e-3]}, **tune}
    return spec


def test_a_tuned_spec_expands_to_candidates_and_final_runs_that_depend_on_them():
    sweep = expand(tuned(algos={"rcrl": {"lr": [1e-3, 1e-2]}}))
    tune = [j for j in sweep.runs if j.labels["phase"] == "tune"]
    final = [j for j in sweep.runs if j.labels["phase"] == "final"]
    # 2 algos x 1 prior x 2 lr x 1 tuning seed; 2 algos x 1 prior x 2 final seeds
    assert len(tune) == 4 and len(final) == 4
    assert {(j.labels["algo"], j.config["lr"], j.config["seed"]) for j in tune} == {
        ("grpo", 1e-4, 100),
        ("grpo", 1e-3, 100),
        ("rcrl", 1e-3, 100),
        ("rcrl", 1e-2, 100),
    }
    for job in final:
        ids = {c["id"] for c in job.candidates}
        mine = {j.id for j in tune if j.labels["algo"] == job.labels["algo"]}
        assert ids == mine and job.config["seed"] in (0, 1) and job.config["test_eval"]
    assert not any(j.config["test_eval"] for j in tune)  # candidates are judged on dev only
    # both final seeds of one method share the same candidates (tuned once)
    grpo = [j for j in final if j.labels["algo"] == "grpo"]
    assert grpo[0].candidates == grpo[1].candidates


@pytest.mark.parametrize(
    "tune, spec_edit, message",
    [
        ({"algos": {"rcrl": {"lr": [1e-3]}}}, {}, "tune.algos.rcrl: 1 configurations where"),
        ({"seeds": [0]}, {}, r"tune.seeds: \[0\] also in `seeds`"),
        ({"grid": {"seed": [1, 2]}}, {}, "tune.grid.seed: not a tunable field"),
        ({"grid": {"lr": []}}, {}, "tune.grid.lr: the grid is empty"),
        ({"colour": 1}, {}, "tune.colour: unknown key"),
        ({}, {"dev_every": 0}, "train.dev_every: tuning selects on the dev split"),
        ({"grid": {"lr": [-1.0]}}, {}, "tune.lr: must be > 0"),
    ],
)
def test_bad_tuning_specs_fail_before_any_job(tune, spec_edit, message):
    spec = tuned(**tune)
    spec["train"].update(spec_edit)
    with pytest.raises(ConfigError, match=message):
        expand(spec)


def _summary(tmp_path, name, points):
    d = tmp_path / name
    d.mkdir()
    curve = [{"samples": s, "pass@1": v, "se": 0.01} for s, v in points]
    (d / "summary.json").write_text(json.dumps({"dev": {"curve": curve}}))
    return str(d)


def test_the_selection_rule_by_hand(tmp_path):
    # window = last third of 300 completions = [200, 300]
    a = _summary(tmp_path, "a", [(0, 0.1), (100, 0.9), (200, 0.3), (300, 0.5)])  # 0.4
    b1 = _summary(tmp_path, "b1", [(0, 0.1), (200, 0.4), (300, 0.6)])  # 0.5
    b2 = _summary(tmp_path, "b2", [(0, 0.1), (200, 0.2), (300, 0.4)])  # 0.3 -> b: 0.4
    c = str(tmp_path / "c")  # failed: no summary.json
    assert score(json.loads((tmp_path / "a" / "summary.json").read_text())) == pytest.approx(0.4)
    cands = [
        {"id": "a", "point": {"lr": 1}, "seed": 9},
        {"id": "b1", "point": {"lr": 2}, "seed": 9},
        {"id": "b2", "point": {"lr": 2}, "seed": 10},
        {"id": "c", "point": {"lr": 3}, "seed": 9},
    ]
    out = choose(cands, {"a": a, "b1": b1, "b2": b2, "c": c})
    assert out["chosen"] == {"lr": 1}  # a tie at 0.4 goes to the earlier configuration
    assert out["score"] == pytest.approx(0.4)
    assert [r["status"] for r in out["candidates"]] == ["done", "done", "done", "failed"]
    assert out["candidates"][3]["score"] is None
    with pytest.raises(ConfigError, match="every tuning candidate failed"):
        choose(cands[3:], {"c": c})


def test_a_tuned_sweep_records_a_diverged_candidate_and_never_chooses_it(tmp_path):
    spec = tuned(grid={"lr": [1e-3, 1e30]})
    spec["algos"], spec["seeds"], spec["rewards"] = ["grpo"], [0], ["random"]  # never all 0
    counts = run_sweep(spec, tmp_path, workers=2, quiet=True)
    assert counts == {"pending": 0, "running": 0, "done": 3, "failed": 1}
    rows = {r["id"]: r for r in Registry(tmp_path).rows()}
    (final,) = [j for j in expand(spec).runs if j.labels["phase"] == "final"]
    diverged = [c["id"] for c in final.candidates if c["point"]["lr"] == 1e30][0]
    assert rows[diverged]["status"] == "failed" and "not finite" in rows[diverged]["error"]
    selection = json.loads((tmp_path / "runs" / final.id / "selection.json").read_text())
    assert selection["chosen"] == {"lr": 1e-3}
    assert {r["params"]["lr"]: r["status"] for r in selection["candidates"]} == {
        1e-3: "done",
        1e30: "failed",
    }
    cell = json.loads((tmp_path / "runs" / final.id / "cell.json").read_text())
    assert cell["phase"] == "final" and cell["chosen"] == {"lr": 1e-3}
    done = [c["id"] for c in final.candidates if c["point"]["lr"] == 1e-3][0]
    assert not list((tmp_path / "runs" / done).glob("samples_*.parquet"))  # never saw test
    config = json.loads((tmp_path / "runs" / final.id / "config.json").read_text())
    assert config["lr"] == 1e-3 and config["seed"] == 0
    assert (tmp_path / "report.json").is_file()  # the failed candidate does not block it


@pytest.fixture(scope="module")
def tuned_sweep(tmp_path_factory):
    """A tuned tiny sweep, run once uninterrupted on the local executor."""
    root = tmp_path_factory.mktemp("tuned")
    spec = tuned()
    spec["rewards"] = ["random"]
    run_sweep(spec, root, workers=2, quiet=True)
    return spec, root


def test_kill_9_mid_tuning_then_resume_gives_the_same_report(tuned_sweep, tmp_path):
    spec, root = tuned_sweep
    out = tmp_path / "sweep"
    cmd = kill_9_sweep(spec, out, once_done=2, poll=0.1)  # the prior and a candidate
    rows = {r["id"]: r["status"] for r in Registry(out).rows()}
    final = {j.id for j in expand(spec).runs if j.labels["phase"] == "final"}
    assert not all(rows[i] == "done" for i in final)  # killed before every final run
    assert subprocess.run(cmd, timeout=600).returncode == 0
    assert (out / "report.json").read_bytes() == (root / "report.json").read_bytes()


def test_a_tuned_sweep_on_ray_gives_the_same_report(tuned_sweep, tmp_path):
    pytest.importorskip("ray")
    spec, root = tuned_sweep
    run_sweep(spec, tmp_path, executor="ray", workers=2, quiet=True)
    assert (tmp_path / "report.json").read_bytes() == (root / "report.json").read_bytes()
