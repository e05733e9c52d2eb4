"""The GPU-sized ceiling preset on a Hugging Face prior: expanded here, and run small on the
CPU (hf engine, two methods, a short budget) through the report's ceiling fit."""

import copy
import json
from pathlib import Path

import pytest

from priorlab.experiments import expand, load_spec, run_sweep
from tests.experiments.test_priors import needs

SVAMP = Path(__file__).resolve().parents[3] / "shared" / "data" / "svamp"  # ../shared


def spec() -> dict:
    out = load_spec("ceiling-hf")
    out["task_params"] = {"path": str(SVAMP)}
    return out


def test_the_preset_asks_one_gpu_per_job_and_enough_dev_points_for_a_fit():
    if not SVAMP.is_dir():
        pytest.skip("../shared/data/svamp is not beside the repository")
    sweep = expand(spec())
    assert sweep.resources == {"cpus": 4, "gpus": 1} and len(sweep.runs) == 12
    for job in sweep.runs:
        train = job.config
        assert train["engine"] == "vllm" and train["task"] == "svamp"
        assert job.labels["prior"] == "smollm2"
        assert train["rollout_budget"] // train["dev_every"] >= 16  # the fit needs >= 6 points


@pytest.mark.slow
def test_a_cpu_sized_smoke_run_is_fitted_and_drawn(tmp_path):
    needs()
    small = copy.deepcopy(spec())
    small |= {"algos": ["grpo", "dr_grpo"], "seeds": [0], "budget": 48, "resources": {}}
    small["train"] = {"engine": "hf", "device": "cpu", "max_new_tokens": 16, "lr": 1e-5,
                      "prompts_per_step": 2, "group_size": 4, "train_problems": 8,
                      "eval_problems": 2, "eval_samples": 2, "dev_every": 8,
                      "dev_problems": 4, "dev_samples": 2}  # fmt: skip
    counts = run_sweep(small, tmp_path, workers=1, quiet=True)
    assert counts["done"] == 2 and counts["failed"] == 0
    report = json.loads((tmp_path / "report.json").read_text())
    rows = report["ceiling"]["runs"]
    assert sorted(r["algo"] for r in rows) == ["dr_grpo", "grpo"]
    for row in rows:  # 7 dev points each (0, 8, ..., 48): fitted, or named with a reason
        assert row["status"] != "too few points" and (row["a"] is not None or row["reason"])
    assert report["ceiling_lines"][0].startswith("all — ceiling: ")
    assert 'id="fig-ceiling-curves"' in (tmp_path / "report.html").read_text()
