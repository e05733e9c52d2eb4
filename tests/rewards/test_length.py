"""The cosine length-scaled reward (Yeo et al. 2025) against values computed by hand."""

import math

import pytest
import torch

from priorlab.rewards import get_reward, reward_params
from priorlab.rewards.base import RewardIn
from priorlab.rollout import Samples
from priorlab.tasks.base import Verdict


def _given(lengths, truncated, correct, max_new_tokens=8):
    B = len(lengths)
    samples = Samples(
        prompt=torch.zeros(B, 1, dtype=torch.long),
        prompt_mask=torch.ones(B, 1, dtype=torch.bool),
        response=torch.zeros(B, max_new_tokens, dtype=torch.long),
        mask=torch.zeros(B, max_new_tokens),
        logp=torch.zeros(B, max_new_tokens),
        entropy=torch.zeros(B, max_new_tokens),
        lengths=torch.tensor(lengths),
        truncated=torch.tensor(truncated),
    )
    verdicts = [Verdict(c, "1", True) for c in correct]
    return RewardIn([None] * B, [""] * B, verdicts, samples=samples, max_new_tokens=max_new_tokens)


def test_cosine_length_follows_the_half_cosine_between_the_papers_values():
    given = _given(
        lengths=[4, 4, 2, 8, 8],
        truncated=[False, False, False, False, True],
        correct=[True, False, True, False, True],
    )
    r = get_reward("cosine_length")(given).rewards
    # L_max 8. L 4: cos(pi/2) = 0, halfway: correct 1 + (2-1)/2 = 1.5, wrong 0 + (-10)/2 = -5.
    # L 2: cos(pi/4) = 0.7071: 1 + 0.5 (1.7071) = 1.8536. L 8 with EOS: cos(pi) = -1, wrong
    # -> rL = 0. Truncated: -10 whatever the verdict.
    assert r == pytest.approx([1.5, -5.0, 1 + 0.5 * (1 + math.sqrt(0.5)), 0.0, -10.0])


def test_cosine_length_takes_the_five_values_as_parameters():
    assert reward_params("cosine_length") == {
        "rc_0": 2.0,
        "rc_L": 1.0,
        "rw_0": -10.0,
        "rw_L": 0.0,
        "r_exceed": -10.0,
    }
    flat = get_reward("cosine_length", rc_0=1.0, rc_L=1.0, rw_0=0.0, rw_L=0.0, r_exceed=0.0)
    given = _given([1, 5, 8], [False, False, True], [True, False, True])
    assert flat(given).rewards == [1.0, 0.0, 0.0]  # the plain verifier, truncation aside
