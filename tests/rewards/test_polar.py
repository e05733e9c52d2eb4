import math
import random

import pytest
import torch

from priorlab.models import build_policy, load_policy
from priorlab.rewards.polar import (
    Polar,
    bradley_terry_loss,
    encode_triplets,
    preference_triplets,
    score,
    triplet_prompt,
)
from priorlab.rollout import rollout
from priorlab.tasks import Arith

TASK = Arith(steps=2, ops=["+", "-"])  # the tiny prior's task (tests/conftest.py)


def test_bradley_terry_loss_by_hand():
    pos, neg = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([0.0, 0.0, 1.0])
    # log(1 + e^-2) = 0.126928, a tie log 2 = 0.693147, the wrong order log(1 + e^2) = 2.126928
    assert bradley_terry_loss(pos[:1], neg[:1]).item() == pytest.approx(0.126928, abs=1e-6)
    expected = (math.log1p(math.exp(-2)) + math.log(2) + math.log1p(math.exp(2))) / 3
    assert bradley_terry_loss(pos, neg).item() == pytest.approx(expected, abs=1e-6)


def test_triplet_layout_puts_prompt_reference_and_candidate_in_one_sequence():
    p = Arith(steps=2).solve("3+4-5=")  # gold "3+4=7,7-5=2#2"
    assert triplet_prompt(p.prompt, p.solution, backend="tiny") == "3+4-5=|3+4=7,7-5=2#2|"
    assert triplet_prompt(p.prompt, p.solution, backend="hf") == (
        "Question: 3+4-5=\nReference: 3+4=7,7-5=2#2\nCandidate:\n"
    )
    rm = build_policy("0.1m", max_len=64).with_value_head()
    batch = encode_triplets(rm, [p.prompt], [p.solution], ["3+4=7,7-5=9#9"])
    tok = rm.tokenizer
    assert tok.decode(batch.prompt[0].tolist()) == "3+4-5=|3+4=7,7-5=2#2|"
    assert tok.decode(batch.response[0].tolist()) == "3+4=7,7-5=9#9"
    assert score(rm, batch).shape == (1,)


@pytest.fixture(scope="module")
def fitted(tiny_prior):
    """A POLAR RM pretrained (default settings) on the tiny prior, and that prior."""
    policy = load_policy(tiny_prior)
    polar = Polar()
    batch = _batch(policy)
    polar(
        batch.problems,
        batch.texts,
        None,
        rng=random.Random(0),
        task=TASK,
        samples=batch.samples,
        policy=policy,
    )
    return polar, policy


def _batch(policy, n_problems: int = 3, group_size: int = 4):
    problems = TASK.problems("train", n_problems, seed=11)
    gen = torch.Generator().manual_seed(0)
    return rollout(policy, problems, group_size=group_size, max_new_tokens=16, generator=gen)


def _pair_accuracy(rm, policy) -> float:
    """How often r(x, y_ref, y+) > r(x, y_ref, y-) on triplets of held-out test problems."""
    problems = TASK.problems("test", 100, seed=3)
    gen = torch.Generator().manual_seed(1)
    data = preference_triplets(
        policy, problems, temperatures=(0.5, 1.5), max_new_tokens=16, generator=gen
    )
    with torch.no_grad():
        pos = score(rm, encode_triplets(rm, data["prompt"], data["reference"], data["positive"]))
        neg = score(rm, encode_triplets(rm, data["prompt"], data["reference"], data["negative"]))
    return (pos > neg).float().mean().item()


def test_pretrained_rm_tells_the_reference_policy_from_another_on_held_out_problems(fitted):
    polar, policy = fitted
    untrained = build_policy("0.1m", max_len=3 * policy.model.cfg.max_len, seed=5)
    chance = _pair_accuracy(untrained.with_value_head(), policy)
    trained = _pair_accuracy(polar.rm, policy)
    assert trained > 0.75 and trained > chance + 0.15, (trained, chance)
    assert polar.stats["polar/pair_acc"] > 0.75 and polar.stats["loss/polar_bt"] < math.log(2)
    assert not any(p.requires_grad for p in polar.rm.model.parameters())  # frozen


def test_reward_is_one_float_per_completion_and_scores_against_the_gold(fitted):
    polar, policy = fitted
    batch = _batch(policy)
    out = polar(
        batch.problems,
        batch.texts,
        None,
        rng=random.Random(1),
        task=TASK,
        samples=batch.samples,
        policy=policy,
    )
    rewards = out.rewards
    assert {"loss/polar_bt", "polar/pair_acc"} <= set(out.metrics)  # the fit, logged
    assert len(rewards) == len(batch.texts) and all(isinstance(r, float) for r in rewards)
    gold = [p.solution for p in batch.problems]
    with torch.no_grad():
        expected = score(
            polar.rm,
            encode_triplets(polar.rm, [p.prompt for p in batch.problems], gold, batch.texts),
        )
    assert rewards == pytest.approx(expected.tolist(), abs=1e-5)


def test_same_seed_same_rewards_and_the_global_torch_stream_is_left_alone(tiny_prior):
    policy = load_policy(tiny_prior)
    batch = _batch(policy, n_problems=2)
    runs = []
    for _ in range(2):
        polar = Polar(problems=16, steps=5)
        state = torch.random.get_rng_state()
        runs.append(
            polar(
                batch.problems,
                batch.texts,
                None,
                rng=random.Random(7),
                task=TASK,
                samples=batch.samples,
                policy=policy,
            ).rewards
        )
        assert torch.equal(state, torch.random.get_rng_state())
    assert runs[0] == runs[1]
