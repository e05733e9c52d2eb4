"""A whole sweep end to end: run, rerun, kill -9 and resume, Ray, failures."""

import json
import subprocess
import sys

import pytest
import yaml

from priorlab.experiments import expand, run_sweep
from priorlab.experiments.store import Registry
from priorlab.metrics import pass_at_k
from priorlab.samples import load_samples
from tests.experiments.conftest import kill_9_sweep


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    """The tiny sweep run once, uninterrupted, on the local executor."""
    from tests.experiments.conftest import TINY

    root = tmp_path_factory.mktemp("local")
    counts = run_sweep(TINY, root, workers=2, quiet=True)
    return root, counts


def _attempts(root) -> dict:
    return {r["id"]: (r["status"], r["attempts"]) for r in Registry(root).rows()}


def test_sweep_runs_every_job_and_writes_the_report(local_sweep, tiny_spec):
    root, counts = local_sweep
    sweep = expand(tiny_spec)
    assert counts == {"pending": 0, "running": 0, "done": len(sweep.jobs), "failed": 0}
    for run in sweep.runs:
        d = root / "runs" / run.id
        assert {"config.json", "metrics.jsonl", "samples_final.parquet", "summary.json"} <= {
            p.name for p in d.iterdir()
        }
        assert (d / "policy" / "model.safetensors").is_file() or any(
            p.suffix == ".safetensors" for p in (d / "policy").iterdir()
        )
        assert json.loads((d / "cell.json").read_text())["algo"] == run.labels["algo"]
    report = json.loads((root / "report.json").read_text())
    assert "pairs different" in report["verdict"]
    assert "the algorithm explains" in report["legacy"]["eta2_verdict"]
    assert (root / "report.html").stat().st_size > 10_000
    assert not list((root / "runs").glob("*.tmp-*"))


def test_rerun_skips_done_runs(local_sweep, tiny_spec):
    root, _ = local_sweep
    before = _attempts(root)
    mtimes = {p: p.stat().st_mtime for p in (root / "runs").glob("*/summary.json")}
    run_sweep(tiny_spec, root, workers=2, quiet=True)
    assert _attempts(root) == before
    assert {p: p.stat().st_mtime for p in (root / "runs").glob("*/summary.json")} == mtimes


def test_a_resumed_sweep_counts_its_runs_not_its_priors(local_sweep, tiny_spec, capsys):
    root, _ = local_sweep
    run_sweep(tiny_spec, root, workers=2, report=False)
    n = len(expand(tiny_spec).runs)  # 12 runs; with the 2 priors, 14 jobs done
    assert f"{n} runs, {n} already done ->" in " ".join(capsys.readouterr().err.split())


def test_report_cell_recomputes_from_the_parquet_files(local_sweep):
    root, _ = local_sweep
    report = json.loads((root / "report.json").read_text())
    row = next(r for r in report["headline"] if r["algo"] == "grpo" and r["prior"] == "long")
    per_seed = []
    for cell in (root / "runs").glob("*/cell.json"):
        labels = json.loads(cell.read_text())
        if labels["algo"] != "grpo" or labels["prior"] != "long":
            continue
        df = load_samples(cell.parent / "samples_final.parquet")
        df = df[~df["greedy"]]
        by_problem = df.groupby("problem_id")["correct"].agg(["size", "sum"])
        per_seed.append(
            sum(pass_at_k(int(n), int(c), 1) for n, c in by_problem.values) / len(by_problem)
        )
    assert len(per_seed) == 2
    assert row["pass@1"]["mean"] == pytest.approx(sum(per_seed) / 2, abs=1e-6)


def test_kill_9_then_resume_gives_the_same_report(local_sweep, tiny_spec, tmp_path):
    root, _ = local_sweep
    out = tmp_path / "sweep"
    cmd = kill_9_sweep(tiny_spec, out, once_done=6)
    killed = _attempts(out)
    done_before = {i for i, (s, _) in killed.items() if s == "done"}
    assert 6 <= len(done_before) < len(killed)
    assert any(s == "running" for s, _ in killed.values())
    mtimes = {
        i: (out / ("priors" if i[0] == "p" else "runs") / i / "cell.json").stat().st_mtime
        for i in done_before
    }

    assert subprocess.run(cmd, timeout=600).returncode == 0
    resumed = _attempts(out)
    assert all(resumed[i] == ("done", 1) for i in done_before)  # not recomputed
    assert all(s == "done" for s, _ in resumed.values())
    for i, t in mtimes.items():
        assert (out / ("priors" if i[0] == "p" else "runs") / i / "cell.json").stat().st_mtime == t
    assert (out / "report.json").read_bytes() == (root / "report.json").read_bytes()


def test_ray_executor_gives_the_same_report(local_sweep, tiny_spec, tmp_path):
    pytest.importorskip("ray")
    root, _ = local_sweep
    counts = run_sweep(tiny_spec, tmp_path, executor="ray", workers=2, quiet=True)
    assert counts["done"] == len(expand(tiny_spec).jobs)
    assert (tmp_path / "report.json").read_bytes() == (root / "report.json").read_bytes()


def test_a_failing_run_is_recorded_and_the_rest_goes_on(tiny_spec, tmp_path):
    tiny_spec.update(seeds=[0], algos=["grpo"], priors=[{"label": "p", "steps": 5}])
    tiny_spec["train"]["train_problems"] = 10**6  # larger than arith's train split
    counts = run_sweep(tiny_spec, tmp_path, workers=1, quiet=True)
    assert counts["done"] == 1 and counts["failed"] == 1  # the prior, the run
    (row,) = [r for r in Registry(tmp_path).rows() if r["status"] == "failed"]
    assert "train_problems" in row["error"]
    assert (tmp_path / "runs" / row["id"]).exists() is False
    assert "train_problems" in next((tmp_path / "runs").glob("*.tmp-*/log.txt")).read_text()


def test_malformed_spec_fails_before_any_job(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({"budget": 64, "algos": ["grpo", "sarsa"]}))
    out = tmp_path / "out"
    res = subprocess.run(
        [sys.executable, "-m", "priorlab.cli", "compare", str(spec), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: algos[1]: unknown algorithm 'sarsa'")
    assert "Traceback" not in res.stderr and not out.exists()
