"""The offline loops read their preset's loss and aggregation; other fields are refused."""

import math

import pytest
import torch

from priorlab.algos import bind, make_algorithm
from priorlab.errors import ConfigError
from priorlab.models import load_policy
from priorlab.rollout import Samples
from priorlab.train import train
from priorlab.train_utils import lm_loss
from tests.test_train import small


class _PositionLogits:
    """A stand-in policy over 2 tokens: at position t the logit of token 1 is a[t], so
    log p(1) = log sigmoid(a[t])."""

    def __init__(self, a):
        self.model = lambda tokens, valid: (
            torch.stack([torch.zeros(len(a)), torch.tensor(a)], -1).expand(len(tokens), -1, -1),
            None,
        )


def test_the_fine_tuning_loss_is_the_presets_nll_aggregated_as_it_says():
    # one prompt token, then completions of 1 and 3 tokens, every target token 1
    samples = Samples(
        prompt=torch.zeros(2, 1, dtype=torch.long),
        prompt_mask=torch.ones(2, 1, dtype=torch.bool),
        response=torch.tensor([[1, 0, 0], [1, 1, 1]]),
        mask=torch.tensor([[1.0, 0, 0], [1, 1, 1]]),
        logp=torch.zeros(2, 3),
        entropy=torch.zeros(2, 3),
        lengths=torch.tensor([1, 3]),
        truncated=torch.zeros(2, dtype=torch.bool),
    )
    policy = _PositionLogits([0.0, math.log(3), math.log(3), 0.0])  # p = 1/2, 3/4, 3/4
    half, quarter = math.log(2), math.log(4 / 3)  # -log p of each target
    by_token = (half + half + 2 * quarter) / 4
    by_sequence = (half + (half + 2 * quarter) / 3) / 2
    for aggregation, want in (("token_mean", by_token), ("seq_mean_token_mean", by_sequence)):
        parts = bind(make_algorithm("sft", aggregation=aggregation), max_new_tokens=3)
        got = lm_loss(
            policy,
            samples,
            include_prompt=False,
            per_token_loss=parts.per_token_loss,
            aggregate=parts.aggregate,
        )
        assert float(got) == pytest.approx(want, rel=1e-6), aggregation
    assert float(lm_loss(policy, samples, include_prompt=False)) == pytest.approx(by_token)


def test_an_offline_runs_aggregation_reaches_its_update(tiny_prior, tmp_path):
    weights = {}
    for aggregation in ("token_mean", "seq_mean_token_sum"):
        out = tmp_path / aggregation
        cfg = small(tiny_prior, out, algo="sft", algo_params={"aggregation": aggregation})
        train(cfg, quiet=True)
        weights[aggregation] = load_policy(out / "policy").model.state_dict()
    a, b = weights.values()
    assert any(not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "algo, field, value",
    [("ei", "policy_loss", "clip"), ("rcrl", "advantage", "grpo"), ("sft", "policy_loss", "gppo")],
)
def test_an_offline_algorithm_refuses_a_loss_or_advantage_it_would_not_read(algo, field, value):
    with pytest.raises(ConfigError, match=f"{field} must be") as e:
        make_algorithm(algo, **{field: value})
    assert e.value.field == f"algo.{field}"
