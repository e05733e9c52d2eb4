import math
from random import Random as R

import pytest
import torch

from priorlab.rewards import REWARDS, get_reward
from priorlab.rewards.base import RewardIn
from priorlab.rewards.intrinsic import split_answer
from priorlab.rollout import Samples
from priorlab.tasks import Arith
from priorlab.tasks.base import Verdict

VERDICTS = [Verdict(True, "7", True), Verdict(False, "8", True), Verdict(False, None, False)]


def test_verifier_is_sparse_zero_one():
    assert get_reward("verifier")(RewardIn([None] * 3, ["", "", ""], VERDICTS)).rewards == [
        1.0,
        0.0,
        0.0,
    ]


def test_format_rewards_any_parsed_answer():
    assert REWARDS["format"](RewardIn([None] * 3, [""] * 3, VERDICTS)).rewards == [
        1.0,
        1.0,
        0.0,
    ]


def test_random_reward_ignores_the_completion_and_is_seeded():
    a = REWARDS["random"](RewardIn([None] * 200, [""] * 200, VERDICTS[:1] * 200, rng=R(1)))
    b = REWARDS["random"](RewardIn([None] * 200, [""] * 200, VERDICTS[2:] * 200, rng=R(1)))
    a, b = a.rewards, b.rewards
    assert a == b and 0.35 < sum(a) / 200 < 0.65


def test_unknown_reward_lists_valid_names():
    with pytest.raises(
        ValueError,
        match="valid: cosine_length, delta_belief, dense_steps, format, majority_vote, orm, polar, "
        "random, raro, reference_likelihood, sdpo, self_certainty, serl, verifier",
    ):
        get_reward("oracle")


def test_dense_steps_credits_each_matching_step_and_the_outcome():
    task = Arith(steps=3)
    p = task.solve("3+4*2-5=")  # gold "3+4=7,7*2=14,14-5=9#9": steps 7, 14, 9
    texts = ["3+4=7,7*2=14,14-5=9#9", "3+4=7,7*2=15,15-5=10#10", "3+4=8#1", "nothing"]
    verdicts = [task.verify(p, t) for t in texts]
    r = get_reward("dense_steps")(RewardIn([p] * 4, texts, verdicts, task=task)).rewards
    assert r == [1.0, 1 / 4, 0.0, 0.0]  # (3+1)/4, (1+0)/4, (0+0)/4, no steps


def test_majority_vote_rewards_the_groups_most_common_answer():
    answers = ["7", "7", "8", None, "3", "4", None, None]
    verdicts = [Verdict(False, a, a is not None) for a in answers]
    group_ids = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    r = get_reward("majority_vote")(RewardIn([None] * 8, [""] * 8, verdicts, group_ids)).rewards
    assert r == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]  # tie 3/4: first seen wins


class _FixedLogits:
    """A stand-in policy whose model returns the same logits at every position."""

    def __init__(self, logits):
        self.model = lambda tokens, key_valid: (
            torch.tensor(logits).expand(*tokens.shape, len(logits)),
            None,
        )


def test_self_certainty_is_kl_from_uniform_per_token():
    samples = Samples(
        prompt=torch.ones(2, 3, dtype=torch.long),
        prompt_mask=torch.ones(2, 3, dtype=torch.bool),
        response=torch.ones(2, 4, dtype=torch.long),
        mask=torch.tensor([[1.0, 1, 0, 0], [1, 1, 1, 1]]),
        logp=torch.zeros(2, 4),
        entropy=torch.zeros(2, 4),
        lengths=torch.tensor([2, 4]),
        truncated=torch.zeros(2, dtype=torch.bool),
    )
    fn = get_reward("self_certainty")
    confident, flat = _FixedLogits([0.0, math.log(3)]), _FixedLogits([0.0] * 5)
    # p = (1/4, 3/4): SC = -(1/2)(ln(2/4) + ln(6/4)) = -(1/2) ln(3/4) per token
    sc = fn(RewardIn([None] * 2, ["", ""], [None] * 2, samples=samples, policy=confident))
    assert sc.rewards == pytest.approx([-0.5 * math.log(0.75)] * 2, abs=1e-6)
    uniform = fn(RewardIn([None] * 2, ["", ""], [None] * 2, samples=samples, policy=flat))
    assert uniform.rewards == pytest.approx([0.0, 0.0], abs=1e-6)


@pytest.mark.parametrize(
    "text, parts",
    [("3+4=7#7", ("3+4=7", "#7")), (" so\n#### 18", (" so\n", "#### 18")), ("none", ("none", ""))],
)
def test_split_answer_cuts_at_the_last_marker(text, parts):
    assert split_answer(text) == parts


def test_reference_likelihood_is_the_probability_of_the_gold_answer():
    from priorlab.models import build_policy

    policy = build_policy("0.1m", seed=3)
    task = Arith(steps=2)
    p = task.solve("3+4-5=")  # gold "3+4=7,7-5=2#2"
    completion = "3+4=7,7-5=9#9"
    (r,) = get_reward("reference_likelihood")(
        RewardIn([p], [completion], [None], policy=policy)
    ).rewards
    # by hand: teacher-force prompt + "3+4=7,7-5=9" + "#2" + EOS, sum log p of "#", "2", EOS
    tok = policy.tokenizer
    ids = tok.encode(p.prompt) + tok.encode("3+4=7,7-5=9#2", bos=False) + [tok.eos_id]
    tokens = torch.tensor([ids])
    with torch.no_grad():
        logits, _ = policy.model(tokens, torch.ones_like(tokens, dtype=torch.bool))
    logprobs = torch.log_softmax(logits[0, :-1], -1)
    picked = logprobs[torch.arange(len(ids) - 1), tokens[0, 1:]]
    assert r == pytest.approx(math.exp(float(picked[-3:].sum())), rel=1e-4)
    assert 0.0 < r < 1.0


def _labelled_batch(policy, n: int = 32):
    """Completions that end in '#1' (labelled correct) or '#2' (labelled wrong)."""
    from priorlab.encoding import encode_pairs

    texts = ["1+0=1#1" if i % 2 == 0 else "1+0=1#2" for i in range(n)]
    samples = encode_pairs(policy.tokenizer, ["1+0="] * n, texts, max_len=32)
    verdicts = [Verdict(i % 2 == 0, t[-1], True) for i, t in enumerate(texts)]
    return texts, samples, verdicts


def test_orm_scores_before_it_learns_the_batch_and_then_separates_right_from_wrong():
    from priorlab.models import build_policy

    policy = build_policy("0.1m", seed=0)
    texts, samples, verdicts = _labelled_batch(policy)
    flipped = [Verdict(not v.correct, v.answer, True) for v in verdicts]
    first = get_reward("orm")(
        RewardIn([None] * 32, texts, verdicts, samples=samples, policy=policy)
    )
    other = get_reward("orm")(RewardIn([None] * 32, texts, flipped, samples=samples, policy=policy))
    first, other = first.rewards, other.rewards
    assert first == other  # a sample's reward never saw its own label
    orm = get_reward("orm")
    orm.lr = 3e-3
    for _ in range(15):
        scores = orm(RewardIn([None] * 32, texts, verdicts, samples=samples, policy=policy)).rewards
    right, wrong = scores[0::2], scores[1::2]
    assert min(right) > 0.8 and max(wrong) < 0.2
    dense = orm.step_scores(samples)
    assert dense.shape == samples.mask.shape and ((dense >= 0) & (dense <= 1)).all()


def test_reward_params_reach_the_source_and_unknown_ones_are_named():
    from priorlab.errors import ConfigError

    assert (
        get_reward("random", p=0.0)(
            RewardIn([None] * 4, [""] * 4, VERDICTS + VERDICTS[:1], rng=R(0))
        ).rewards
        == [0.0] * 4
    )
    assert get_reward("raro", tau_pol=0.5).tau_pol == 0.5
    with pytest.raises(
        ConfigError, match=r"reward_params.tau: raro takes no such parameter; accepted: tau_pol"
    ):
        get_reward("raro", tau=0.5)
    with pytest.raises(
        ConfigError, match="reward_params.task: verifier takes no such parameter; accepted: none"
    ):
        get_reward("verifier", task=None)  # what the loop passes is not a parameter
