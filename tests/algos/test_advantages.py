import math

import pytest
import torch

from priorlab.algos import ADVANTAGES, gae

R = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
G = torch.tensor([0, 0, 0, 1, 1, 1])


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="valid: dr_grpo, grpo"):
        ADVANTAGES["nope"]


@pytest.mark.parametrize("name", list(ADVANTAGES))
def test_every_estimator_returns_one_float_per_sample(name):
    adv = ADVANTAGES[name](R, G)
    assert adv.shape == (6,) and torch.isfinite(adv).all()


@pytest.mark.parametrize("name", ["grpo", "dr_grpo", "rloo", "lite_ppo", "reinforce_pp_baseline"])
def test_equal_rewards_give_zero_group_advantage(name):
    r = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    assert torch.allclose(ADVANTAGES[name](r, G), torch.zeros(6), atol=1e-6)


def test_grpo_by_hand():
    # group 0: r = [1, 0, 1], mean 2/3, unbiased std sqrt(1/3)
    std = math.sqrt(1 / 3)
    expect = torch.tensor([1 / 3, -2 / 3, 1 / 3, 2 / 3, -1 / 3, -1 / 3]) / (std + 1e-6)
    assert torch.allclose(ADVANTAGES["grpo"](R, G), expect, atol=1e-6)


def test_dr_grpo_by_hand():
    expect = torch.tensor([1 / 3, -2 / 3, 1 / 3, 2 / 3, -1 / 3, -1 / 3])
    assert torch.allclose(ADVANTAGES["dr_grpo"](R, G), expect, atol=1e-6)


def test_rloo_baseline_excludes_the_sample_itself():
    r = torch.tensor([3.0, 1.0, 2.0])
    g = torch.zeros(3, dtype=torch.long)
    # sample 0: 3 - mean(1, 2) = 1.5; sample 1: 1 - 2.5; sample 2: 2 - 2
    assert torch.allclose(ADVANTAGES["rloo"](r, g), torch.tensor([1.5, -1.5, 0.0]))


def test_lite_ppo_uses_group_mean_and_batch_std():
    batch_std = R.std()  # unbiased over all six: sqrt(0.3)
    assert math.isclose(batch_std.item(), math.sqrt(0.3), rel_tol=1e-6)
    expect = torch.tensor([1 / 3, -2 / 3, 1 / 3, 2 / 3, -1 / 3, -1 / 3]) / (math.sqrt(0.3) + 1e-6)
    assert torch.allclose(ADVANTAGES["lite_ppo"](R, G), expect, atol=1e-6)


def test_reinforce_pp_whitens_over_the_batch():
    # mean 0.5, unbiased std sqrt(0.3)
    expect = (R - 0.5) / (math.sqrt(0.3) + 1e-6)
    assert torch.allclose(ADVANTAGES["reinforce_pp"](R, G), expect, atol=1e-6)


def test_reinforce_pp_baseline_by_hand():
    a = torch.tensor([1 / 3, -2 / 3, 1 / 3, 2 / 3, -1 / 3, -1 / 3])  # mean 0
    std = math.sqrt((3 * (1 / 9) + 2 * (4 / 9) + 1 / 9 * 0 + 4 / 9) / 5)
    std = a.std().item()
    assert torch.allclose(ADVANTAGES["reinforce_pp_baseline"](R, G), a / (std + 1e-6), atol=1e-6)


def test_reinforce_pp_whitens_over_response_tokens_not_sequences():
    r = torch.tensor([1.0, 0.0])
    tokens = torch.tensor([3, 1])  # row 0 stands for 3 tokens of value 1, row 1 for one 0
    # token values [1, 1, 1, 0]: mean 0.75, unbiased std sqrt((3 * 0.0625 + 0.5625) / 3) = 0.5
    expect = (r - 0.75) / (0.5 + 1e-6)
    adv = ADVANTAGES["reinforce_pp"](r, torch.zeros(2, dtype=torch.long), tokens=tokens)
    assert torch.allclose(adv, expect, atol=1e-6)


def test_reinforce_pp_baseline_subtracts_the_group_mean_then_whitens_tokens():
    r = torch.tensor([1.0, 0.0, 1.0, 1.0])
    g = torch.tensor([0, 0, 1, 1])
    tokens = torch.tensor([2, 2, 1, 3])
    # a = [0.5, -0.5, 0, 0] over 2 + 2 + 1 + 3 = 8 tokens: mean 0, unbiased var 1 / 7
    expect = torch.tensor([0.5, -0.5, 0.0, 0.0]) / (math.sqrt(1 / 7) + 1e-6)
    assert torch.allclose(ADVANTAGES["reinforce_pp_baseline"](r, g, tokens=tokens), expect)


def test_none_is_the_raw_reward():
    assert torch.equal(ADVANTAGES["none"](R, G), R)


def test_gae_by_hand():
    # one sequence, 3 tokens, reward 1 on the last; V = [0.5, 0.6, 0.7]; gamma 1, lam 0.5
    r = torch.tensor([[0.0, 0.0, 1.0]])
    v = torch.tensor([[0.5, 0.6, 0.7]])
    m = torch.ones(1, 3)
    adv, ret = gae(r, v, m, gamma=1.0, lam=0.5)
    d2 = 1.0 - 0.7  # last token: no next value
    d1 = 0.0 + 0.7 - 0.6
    d0 = 0.0 + 0.6 - 0.5
    a2, a1 = d2, d1 + 0.5 * d2
    a0 = d0 + 0.5 * a1
    assert torch.allclose(adv, torch.tensor([[a0, a1, a2]]), atol=1e-6)
    assert torch.allclose(ret, adv + v, atol=1e-6)


def test_gae_ignores_padding():
    r = torch.tensor([[0.0, 1.0, 0.0]])
    v = torch.tensor([[0.2, 0.4, 9.0]])
    m = torch.tensor([[1.0, 1.0, 0.0]])
    adv, _ = gae(r, v, m, gamma=1.0, lam=1.0)
    assert torch.allclose(adv, torch.tensor([[0.8, 0.6, 0.0]]), atol=1e-6)


def test_per_step_grpo_normalises_each_step_index_then_sums_to_go():
    from priorlab.algos import per_step_grpo

    a = 1 / 2**0.5  # (1 - 0.5) / std([1, 0]) with the unbiased std 0.7071
    adv = per_step_grpo(
        torch.tensor([[1.0, 0.0], [0.0, 2.0]]),
        torch.ones(2, 2, dtype=torch.bool),
        torch.tensor([0, 0]),
    )
    assert torch.allclose(adv, torch.tensor([[0.0, -a], [0.0, a]]), atol=1e-5)
    # row 1 has no second step: step 1 is normalised over row 0 alone (advantage 0)
    present = torch.tensor([[True, True], [True, False]])
    adv = per_step_grpo(torch.tensor([[1.0, 3.0], [0.0, 0.0]]), present, torch.tensor([0, 0]))
    assert torch.allclose(adv, torch.tensor([[a, 0.0], [-a, 0.0]]), atol=1e-5)
