"""SERL, RARO, SDPO, Delta-Belief: their rewards and advantages against hand-computed values."""

import random
from types import SimpleNamespace

import pytest
import torch

from priorlab import algos
from priorlab.encoding import encode_pairs
from priorlab.models import build_policy, load_policy
from priorlab.rewards import belief, get_reward
from priorlab.rewards.adversarial import critic_outcome, critic_reward, policy_reward
from priorlab.rewards.base import RewardIn
from priorlab.rewards.distill import pick_teachers
from priorlab.rewards.selfjudge import actor_rewards, judge_pairs, judge_rewards
from priorlab.roles import hint_prompt
from priorlab.rollout import rollout, sequence_logp
from priorlab.tasks import Arith
from priorlab.tasks.base import Verdict

A = 1 / 2**0.5  # a two-row group normalised: (x - mean) / unbiased std = +-0.7071


# --- Delta-Belief --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reasoning, steps",
    [
        ("3+4=7,7*2=14", ["3+4=7,", "7*2=14"]),
        ("3+4=7,", ["3+4=7,"]),
        ("", [""]),
        ("a\nb, c\n", ["a\n", "b, c\n"]),
    ],
)
def test_reasoning_steps_cut_at_newlines_else_commas(reasoning, steps):
    assert belief.reasoning_steps(reasoning) == steps


def test_delta_belief_step_rewards_and_token_advantages_by_hand(monkeypatch):
    # log b after each prefix, as if the policy had said so
    log_b = {"": -3.0, "3+4=7": -2.0, "3+4=7,7-5=2": -0.5, "3+4=8": -4.0, "3+4=8,8-5=3": -5.0}
    monkeypatch.setattr(
        belief, "answer_logp", lambda policy, rows, prefixes: [log_b[z] for z in prefixes]
    )
    policy = build_policy("0.1m")
    p = Arith(steps=2).solve("3+4-5=")
    completions = ["3+4=7,7-5=2#2", "3+4=8,8-5=3#3"]
    samples = encode_pairs(policy.tokenizer, [p.prompt] * 2, completions, max_len=64)
    verdicts = [Verdict(True, "2", True), Verdict(False, "3", True)]
    out = belief.delta_belief(
        RewardIn(
            [p, p],
            completions,
            verdicts,
            policy=policy,
            samples=samples,
            group_ids=torch.tensor([0, 0]),
        )
    )
    # row 0: steps earn -2 - -3 = 1 and -0.5 - -2 + 1 (right) = 2.5; row 1: -1 and -1 + 0
    assert out.rewards == pytest.approx([3.5, -2.0])
    # per step index the two rows normalise to +-A; returns to go: 2A then A for row 0
    scored = SimpleNamespace(extras=out.extras, group_ids=torch.tensor([0, 0]), samples=samples)
    adv, _ = algos.per_step(scored)  # the estimator its Source declares
    n0 = len("3+4=7,")  # character tokens of the first step
    assert torch.allclose(adv[0, :n0], torch.full((n0,), 2 * A), atol=1e-5)
    assert torch.allclose(adv[0, n0 : n0 + 8], torch.full((8,), A), atol=1e-5)  # "7-5=2#2" + EOS
    assert torch.allclose(adv[1, :n0], torch.full((n0,), -2 * A), atol=1e-5)
    assert torch.allclose(adv[1, n0 : n0 + 8], torch.full((8,), -A), atol=1e-5)


def test_token_steps_follow_the_characters_each_token_decodes_to():
    class Words:  # a token per word: "ab", ",", "cd", "#x"
        def decode(self, ids):
            return ["ab", ",", "cd", "#x"][ids[0]]

    assert belief.token_steps(Words(), [0, 1, 2, 3], [3, 5]) == [0, 0, 1, 1]


# --- SERL ----------------------------------------------------------------------------------


def test_serl_actor_reward_counts_length_weighted_wins_inside_the_window():
    pairs = [(0, 1), (0, 2), (1, 2)]
    winners = [0, 2, None]  # 2 beats 0 but is twice as long: outside the window
    actor = actor_rewards(pairs, winners, [10, 11, 20], 3)
    assert actor == pytest.approx([11 / 10 / 2, 0.0, 0.0])
    # the judge: +1 for picking the higher actor reward, -1 lower, -1 malformed, 0 tie
    assert judge_rewards(pairs, winners, actor) == [1.0, -1.0, -1.0]
    assert judge_rewards([(0, 1)], [1], [0.5, 0.5]) == [0.0]


def test_serl_pairs_every_two_samples_of_small_groups_and_a_ring_of_large_ones():
    small = judge_pairs([0] * 4 + [1] * 4, random.Random(0))
    assert len(small) == 12 and all((a < 4) == (b < 4) for a, b in small)
    large = judge_pairs([0] * 8, random.Random(0))
    assert len(large) == 8
    assert sorted(r for pair in large for r in pair) == sorted(list(range(8)) * 2)


# --- RARO ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice, expert_first, outcome, pol, crit",
    [
        ("1", True, "expert", 0.0, 1.0),
        ("2", False, "expert", 0.0, 1.0),
        ("1", False, "policy", 1.0, 0.0),
        ("tie", True, "tie", 0.6, 0.55),
        (None, True, None, 0.0, 0.0),
    ],
)
def test_raro_rewards_by_hand(choice, expert_first, outcome, pol, crit):
    assert critic_outcome(choice, expert_first) == outcome
    assert policy_reward(outcome) == pol and critic_reward(outcome) == crit


def test_raro_critic_judges_the_batch_and_as_many_replayed_answers(role_prior):
    policy = load_policy(role_prior)
    task = Arith(steps=2, ops=["+", "-"])
    problems = task.problems("train", 4, seed=0)
    raro = get_reward("raro")
    rng = random.Random(0)

    def call():
        batch = rollout(
            policy,
            problems,
            group_size=2,
            max_new_tokens=16,
            generator=torch.Generator().manual_seed(0),
        )
        verdicts = [task.verify(p, t) for p, t in zip(batch.problems, batch.texts)]
        return raro(RewardIn(batch.problems, batch.texts, verdicts, policy=policy, rng=rng))

    first, second = call(), call()
    first_critic, second_critic = first.rows[0].batch, second.rows[0].batch
    assert len(first.rewards) == 8 and len(first_critic) == 8  # nothing to replay yet
    assert len(second_critic) == 16  # half of the critic's batch from the buffer
    assert set(first.rewards) <= {0.0, 0.6, 1.0}
    assert set(second_critic.rewards.tolist()) <= {0.0, 0.55, 1.0}
    assert not second.rows[0].paired  # the step's critic rows, kept whole by a filter
    assert len(raro.buffer) == 16


# --- SDPO ----------------------------------------------------------------------------------


def test_sdpo_teacher_is_another_correct_sibling_or_none():
    teachers = pick_teachers([True, False, True, False, False], [0, 0, 0, 1, 1], random.Random(0))
    assert teachers[0] == 2 and teachers[2] == 0 and teachers[1] in (0, 2)
    assert teachers[3] is None and teachers[4] is None


def test_sdpo_advantage_is_teacher_minus_student_log_prob_on_taught_rows(role_prior):
    policy = load_policy(role_prior)
    p = Arith(steps=2).solve("3+4-5=")
    completions = ["3+4=7,7-5=2#2", "3+4=7,7-5=9#9", "3+4=9#9"]
    verdicts = [Verdict(True, "2", True), Verdict(False, "9", True), Verdict(False, "9", True)]
    samples = encode_pairs(policy.tokenizer, [p.prompt] * 3, completions, max_len=96)
    samples.logp = sequence_logp(policy, samples)[0].detach()
    out = get_reward("sdpo")(_sdpo_given(policy, p, completions, verdicts, samples))
    # row 0 is the only correct one: it has no other correct sibling; rows 1, 2 learn from it
    assert out.extras["keep"].tolist() == [False, True, True]
    assert torch.all(out.extras["token_adv"][0] == 0)
    hinted = encode_pairs(
        policy.tokenizer,
        [hint_prompt(True, p.prompt, completions[0])],
        [completions[1]],
        max_len=96,
    )
    with torch.no_grad():
        teacher = sequence_logp(policy, hinted)[0][0]
    n = int(samples.lengths[1])
    expected = teacher[:n] - samples.logp[1, :n]
    assert torch.allclose(out.extras["token_adv"][1, :n], expected, atol=1e-5)
    assert out.rewards[1] == pytest.approx(float(expected.mean()), abs=1e-5)


def _sdpo_given(policy, p, completions, verdicts, samples) -> RewardIn:
    """One group of three completions of problem p, as the loop hands them to SDPO."""
    return RewardIn(
        [p] * 3,
        completions,
        verdicts,
        policy=policy,
        samples=samples,
        group_ids=torch.tensor([0, 0, 0]),
        rng=random.Random(0),
    )


def _sdpo_case(policy):
    p = Arith(steps=2).solve("3+4-5=")
    completions = ["3+4=7,7-5=2#2", "3+4=7,7-5=9#9", "3+4=9#9"]
    verdicts = [Verdict(True, "2", True), Verdict(False, "9", True), Verdict(False, "9", True)]
    samples = encode_pairs(policy.tokenizer, [p.prompt] * 3, completions, max_len=96)
    samples.logp = sequence_logp(policy, samples)[0].detach()
    return p, completions, verdicts, samples


def test_sdpo_jsd_hands_the_update_the_hinted_teachers_full_distribution(role_prior):
    from priorlab.algos.losses import generalized_jsd
    from priorlab.rewards.distill import terms
    from priorlab.rollout import next_token_logprobs

    policy = load_policy(role_prior)
    p, completions, verdicts, samples = _sdpo_case(policy)
    out = get_reward("sdpo", divergence="jsd", alpha=0.5)(
        _sdpo_given(policy, p, completions, verdicts, samples)
    )
    keep, token_adv, teacher_logp = (out.extras[k] for k in ("keep", "token_adv", "teacher_logp"))
    assert keep.tolist() == [False, True, True]
    assert torch.all(token_adv == 0)  # no advantage: the divergence is the whole signal
    V = policy.model.head.weight.shape[0]
    assert teacher_logp.shape == (3, samples.response.shape[1], V)
    assert torch.all(teacher_logp[0] == 0)  # no teacher: an empty slot
    hinted = encode_pairs(
        policy.tokenizer,
        [hint_prompt(True, p.prompt, completions[0])],
        [completions[1]],
        max_len=96,
    )
    with torch.no_grad():  # the teacher by hand: the hinted prompt's next-token log-probs
        tokens = torch.cat([hinted.prompt, hinted.response], 1)
        logits, _ = policy.model(tokens, torch.ones_like(tokens, dtype=torch.bool))
        P, n = hinted.prompt.shape[1], int(samples.lengths[1])
        teacher = torch.log_softmax(logits[0, P - 1 : P - 1 + n], -1)
        student = next_token_logprobs(policy, samples)[0][1, :n]
    assert torch.allclose(teacher_logp[1, :n], teacher, atol=1e-5)
    jsd = generalized_jsd(student, teacher, alpha=0.5)  # (n,)
    assert out.rewards[1] == pytest.approx(-float(jsd.mean()), abs=1e-5)
    assert out.rewards[0] == 0.0 and out.metrics["sdpo/jsd"] > 0
    (term,) = terms(divergence="jsd", alpha=0.5)  # the loss term its Source declares
    assert term.full_vocab and terms() == ()


@pytest.mark.parametrize(
    "params, field",
    [
        ({"divergence": "forward_kl"}, "reward_params.divergence"),
        ({"divergence": "jsd", "alpha": 1.5}, "reward_params.alpha"),
        ({"alpha": "half"}, "reward_params.alpha"),
    ],
)
def test_sdpo_refuses_an_unknown_divergence_or_an_alpha_outside_zero_one(params, field):
    from priorlab.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        get_reward("sdpo", **params)
    assert e.value.field == field
    accepted = ("sampled_reverse_kl, jsd", "[0, 1]", "expected float, got 'half'")  # typed first
    assert any(words in str(e.value) for words in accepted)


def test_sdpo_takes_divergence_and_alpha_with_the_old_behaviour_by_default():
    from priorlab.rewards import reward_params

    assert reward_params("sdpo") == {"divergence": "sampled_reverse_kl", "alpha": 0.5}
