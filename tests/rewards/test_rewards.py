import random

import pytest

from priorlab.rewards import REWARDS, get_reward
from priorlab.tasks import Arith
from priorlab.tasks.base import Verdict

VERDICTS = [Verdict(True, "7", True), Verdict(False, "8", True), Verdict(False, None, False)]


def test_verifier_is_sparse_zero_one():
    assert get_reward("verifier")([None] * 3, ["", "", ""], VERDICTS, rng=random.Random(0)) == [
        1.0,
        0.0,
        0.0,
    ]


def test_format_rewards_any_parsed_answer():
    assert REWARDS["format"]([None] * 3, [""] * 3, VERDICTS, rng=random.Random(0)) == [
        1.0,
        1.0,
        0.0,
    ]


def test_random_reward_ignores_the_completion_and_is_seeded():
    a = REWARDS["random"]([None] * 200, [""] * 200, VERDICTS[:1] * 200, rng=random.Random(1))
    b = REWARDS["random"]([None] * 200, [""] * 200, VERDICTS[2:] * 200, rng=random.Random(1))
    assert a == b and 0.35 < sum(a) / 200 < 0.65


def test_unknown_reward_lists_valid_names():
    with pytest.raises(ValueError, match="valid: dense_steps, format, random, verifier"):
        get_reward("oracle")


def test_dense_steps_credits_each_matching_step_and_the_outcome():
    task = Arith(steps=3)
    p = task.solve("3+4*2-5=")  # gold "3+4=7,7*2=14,14-5=9#9": steps 7, 14, 9
    texts = ["3+4=7,7*2=14,14-5=9#9", "3+4=7,7*2=15,15-5=10#10", "3+4=8#1", "nothing"]
    verdicts = [task.verify(p, t) for t in texts]
    r = get_reward("dense_steps")([p] * 4, texts, verdicts, rng=random.Random(0))
    assert r == [1.0, 1 / 4, 0.0, 0.0]  # (3+1)/4, (1+0)/4, (0+0)/4, no steps
