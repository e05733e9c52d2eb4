"""Learning really happens: from a pretrained tiny prior on arith, each of grpo, ppo, ei and
rcrl raises held-out pass@1 by at least 10 points within a budget that trains in under
3 minutes on a 2-core CPU."""

import pytest

from priorlab.config import PretrainConfig, TrainConfig
from priorlab.priors import pretrain
from priorlab.train import train

pytestmark = [pytest.mark.slow, pytest.mark.long]  # `make test-long`: ~20 min on 2 cores


@pytest.fixture(scope="module")
def prior(tmp_path_factory):
    """1M parameters, 2-step +/- chains, half the corpus solutions corrupted."""
    out = tmp_path_factory.mktemp("learning") / "prior"
    cfg = PretrainConfig(
        out=str(out),
        task_params={"steps": 2, "ops": ["+", "-"]},
        size="1m",
        steps=1000,
        corpus_size=3000,
        lr=2e-3,
        wrong_frac=0.5,
    )
    pretrain(cfg, quiet=True)
    return out


@pytest.mark.parametrize("algo", ["grpo", "ppo", "ei", "rcrl"])
def test_rl_raises_held_out_pass_at_1(prior, tmp_path, algo):
    cfg = TrainConfig(
        model=str(prior),
        out=str(tmp_path / algo),
        algo=algo,
        rollout_budget=8192,
        train_problems=2000,
        max_new_tokens=24,
        eval_problems=100,
        eval_samples=8,
    )
    summary = train(cfg, quiet=True)
    before, after = summary["initial"]["eval/pass@1"], summary["final"]["eval/pass@1"]
    assert after - before >= 0.10, f"{algo}: pass@1 {before:.3f} -> {after:.3f}"
