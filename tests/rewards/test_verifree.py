"""VeriFree's full objective: the reward, the reasoning mask, and the reference-answer term's
gradient against R * grad log pi(y* | q, z) computed by hand."""

import math

import pytest
import torch

from priorlab.algos import AGGREGATIONS, POLICY_LOSSES
from priorlab.encoding import encode_pairs
from priorlab.errors import ConfigError
from priorlab.models import build_policy
from priorlab.rewards import get_reward, reward_params
from priorlab.rewards.base import RewardIn
from priorlab.rollout import sequence_logp
from priorlab.tasks import Arith

COMPLETIONS = ["3+4=7,7-5=9#9", "3+4=7,7-5=2#2", "3+4=8"]  # the last has no answer


def _case(seed=3):
    policy = build_policy("0.1m", seed=seed)
    p = Arith(steps=2).solve("3+4-5=")  # gold "3+4=7,7-5=2#2"
    samples = encode_pairs(policy.tokenizer, [p.prompt] * 3, COMPLETIONS, max_len=64)
    return policy, [p] * 3, samples


def _full(policy, problems, samples, temperature=1.0):
    return get_reward("reference_likelihood", objective="full")(
        RewardIn(
            problems,
            COMPLETIONS,
            [None] * 3,
            policy=policy,
            samples=samples,
            group_ids=torch.tensor([0, 0, 0]),
            temperature=temperature,
        )
    )


def _answer_logp_by_hand(policy, prompt, reasoning):
    """log pi("#2" + EOS | prompt, reasoning), teacher-forced on one unpadded row."""
    tok = policy.tokenizer
    ids = tok.encode(prompt) + tok.encode(reasoning + "#2", bos=False) + [tok.eos_id]
    tokens = torch.tensor([ids])
    logits, _ = policy.model(tokens, torch.ones_like(tokens, dtype=torch.bool))
    logprobs = torch.log_softmax(logits[0, :-1], -1)
    return logprobs[torch.arange(len(ids) - 1), tokens[0, 1:]][-3:].sum()


def test_full_objective_rewards_as_the_reward_only_one_and_masks_the_policys_answer():
    policy, problems, samples = _case()
    out = _full(policy, problems, samples)
    plain = get_reward("reference_likelihood")(
        RewardIn(problems, COMPLETIONS, [None] * 3, policy=policy)
    )
    assert out.rewards == pytest.approx(plain.rewards, rel=1e-5)
    # the reasoning tokens learn from the policy gradient, not "#9" / "#2" and EOS
    n = len("3+4=7,7-5=9")
    keep = out.extras["keep"]
    assert keep[0].tolist() == [True] * n + [False] * (samples.mask.shape[1] - n)
    assert keep[2, :5].all() and not keep[2, 5:].any()  # no answer: all but EOS
    (rows,) = out.rows  # one per completion, in order: filtered with them
    assert rows.paired
    extra = rows.batch
    assert extra.texts == ["3+4=7,7-5=9#2", "3+4=7,7-5=2#2", "3+4=8#2"]
    assert extra.loss_mask.sum(1).tolist() == [3.0, 3.0, 3.0]  # "#", "2", EOS
    r = torch.tensor(out.rewards)
    assert torch.equal(rows.advantage(extra), r[:, None] * extra.loss_mask)  # sg(R) on y*, EOS
    assert out.metrics["verifree/full"] == 1.0


def test_the_reference_answer_terms_gradient_is_r_times_grad_log_pi_of_the_answer():
    policy, problems, samples = _case()
    (rows,) = _full(policy, problems, samples).rows
    extra, r = rows.batch, rows.batch.rewards
    # the update's loss on the extra rows: clipped loss with advantage R, summed per row
    logp = sequence_logp(policy, extra.samples)[0]
    loss_mat = POLICY_LOSSES["clip"](logp, extra.samples.logp, rows.advantage(extra))
    loss = AGGREGATIONS["seq_mean_token_sum"](loss_mat, extra.loss_mask)
    params = [p for p in policy.model.parameters() if p.requires_grad]
    got = torch.autograd.grad(loss, params)
    # by hand: -(1/B) sum_i R_i grad log pi(y* | q, z_i), each row teacher-forced alone
    reasonings = ["3+4=7,7-5=9", "3+4=7,7-5=2", "3+4=8"]
    by_hand = -sum(
        float(r[i]) * _answer_logp_by_hand(policy, problems[i].prompt, z)
        for i, z in enumerate(reasonings)
    ) / len(reasonings)
    want = torch.autograd.grad(by_hand, params)
    for g, w in zip(got, want):
        assert torch.allclose(g, w, atol=1e-6, rtol=1e-4)
    assert any(w.abs().sum() > 0 for w in want)
    # and R itself is the probability of the answer by hand
    with torch.no_grad():
        assert float(r[0]) == pytest.approx(
            math.exp(float(_answer_logp_by_hand(policy, problems[0].prompt, reasonings[0]))),
            rel=1e-4,
        )


def test_the_extra_rows_old_log_probs_follow_the_sampling_temperature():
    policy, problems, samples = _case()
    hot = _full(policy, problems, samples, temperature=0.7).rows[0].batch
    with torch.no_grad():
        want = sequence_logp(policy, hot.samples, temperature=0.7)[0]
    assert torch.allclose(hot.samples.logp, want, atol=1e-6)


def test_objective_is_a_checked_parameter_defaulting_to_the_reward_only():
    assert reward_params("reference_likelihood") == {"objective": "reward_only"}
    with pytest.raises(ConfigError) as e:
        get_reward("reference_likelihood", objective="both")
    assert e.value.field == "reward_params.objective" and "reward_only, full" in str(e.value)
