import math

import pytest
import torch

from priorlab.algos import (
    AGGREGATIONS,
    KL_ESTIMATORS,
    POLICY_LOSSES,
    clip_fractions,
    truncated_is_weight,
)
from priorlab.algos.filters import experts, mask_truncated, overlong_penalty, varied_groups
from priorlab.algos.losses import entropy_from_logits, generalized_jsd

LOGP = torch.log(torch.tensor([[0.5, 0.5]]))


def test_clip_by_hand_positive_advantage():
    old = torch.log(torch.tensor([[0.25, 0.5]]))  # ratios 2.0 and 1.0
    loss = POLICY_LOSSES["clip"](LOGP, old, torch.tensor([1.0]), eps_low=0.2, eps_high=0.2)
    # ratio 2 clipped to 1.2 -> -min(2, 1.2) = -1.2; ratio 1 -> -1
    assert torch.allclose(loss, torch.tensor([[-1.2, -1.0]]))


def test_clip_higher_is_asymmetric():
    old = torch.log(torch.tensor([[0.25, 1.0]]))  # ratios 2.0, 0.5
    loss = POLICY_LOSSES["clip"](LOGP, old, torch.tensor([1.0]), eps_low=0.2, eps_high=0.28)
    # A > 0: -min(2, 1.28) = -1.28 ; -min(0.5, 0.8) = -0.5
    assert torch.allclose(loss, torch.tensor([[-1.28, -0.5]]))


def test_clip_negative_advantage_and_dual_clip():
    old = torch.log(torch.tensor([[0.1, 0.5]]))  # ratios 5.0 and 1.0
    adv = torch.tensor([-1.0])
    plain = POLICY_LOSSES["clip"](LOGP, old, adv)
    assert torch.allclose(plain, torch.tensor([[5.0, 1.0]]))  # max(5, 1.2) = 5
    dual = POLICY_LOSSES["clip"](LOGP, old, adv, dual_clip=3.0)
    assert torch.allclose(dual, torch.tensor([[3.0, 1.0]]))  # capped at -c A = 3


def test_reinforce_and_nll():
    adv = torch.tensor([2.0])
    assert torch.allclose(POLICY_LOSSES["reinforce"](LOGP, LOGP, adv), torch.tensor([[-2.0, -2.0]]))
    assert torch.allclose(POLICY_LOSSES["nll"](LOGP, LOGP, adv), -LOGP)


def test_unknown_loss_and_aggregation_names():
    with pytest.raises(ValueError, match="valid: cispo, clip, gppo, nll, reinforce"):
        POLICY_LOSSES["ppo2"]
    with pytest.raises(ValueError, match="seq_mean_token_mean"):
        AGGREGATIONS["mean"]


L = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 0.0, 0.0]])
M = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])


def test_token_mean_and_seq_mean_differ_on_unequal_lengths():
    # token_mean: (1+2+3+4+5+6) / 6 = 3.5 ; seq_mean_token_mean: mean(2.5, 5.5) = 4.0
    assert AGGREGATIONS["token_mean"](L, M).item() == pytest.approx(3.5)
    assert AGGREGATIONS["seq_mean_token_mean"](L, M).item() == pytest.approx(4.0)


def test_seq_mean_token_sum_and_seq_sum_norm():
    assert AGGREGATIONS["seq_mean_token_sum"](L, M).item() == pytest.approx((10 + 11) / 2)
    assert AGGREGATIONS["seq_sum_norm"](L, M).item() == pytest.approx(21 / (2 * 4))
    assert AGGREGATIONS["seq_sum_norm"](L, M, norm_len=10).item() == pytest.approx(21 / 20)


@pytest.mark.parametrize("name", list(AGGREGATIONS))
def test_every_aggregation_ignores_masked_tokens(name):
    noisy = L.clone()
    noisy[1, 2:] = 1000.0
    assert AGGREGATIONS[name](noisy, M).item() == pytest.approx(AGGREGATIONS[name](L, M).item())


def test_kl_estimators_by_hand():
    logp, ref = torch.tensor([0.0, -1.0]), torch.tensor([-1.0, 0.0])  # d = 1, -1
    assert torch.allclose(KL_ESTIMATORS["k1"](logp, ref), torch.tensor([1.0, -1.0]))
    assert torch.allclose(KL_ESTIMATORS["k2"](logp, ref), torch.tensor([0.5, 0.5]))
    expect = torch.tensor([math.exp(-1) + 1 - 1, math.exp(1) - 1 - 1])
    assert torch.allclose(KL_ESTIMATORS["k3"](logp, ref), expect)


def test_k3_is_never_negative():
    g = torch.Generator().manual_seed(0)
    d = torch.randn(10_000, generator=g) * 5
    assert (KL_ESTIMATORS["k3"](d, torch.zeros_like(d)) >= 0).all()


def test_entropy_from_logits():
    uniform = torch.zeros(1, 4)
    assert entropy_from_logits(uniform).item() == pytest.approx(math.log(4))


def test_clip_fractions_count_only_binding_clips_by_side():
    # ratios 2.0, 0.5, 2.0, 0.5, 1.0 (the last token is padding)
    logp = torch.log(torch.tensor([[1.0, 0.25, 1.0, 0.25, 0.5]]))
    old = torch.log(torch.tensor([[0.5, 0.5, 0.5, 0.5, 0.5]]))
    adv = torch.tensor([[1.0, -1.0, -1.0, 1.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    low, high = clip_fractions(logp, old, adv, mask, eps_low=0.2, eps_high=0.28)
    # token 0: A > 0, ratio 2 > 1.28 -> high; token 1: A < 0, ratio 0.5 < 0.8 -> low;
    # tokens 2 and 3: ratio outside the range on the side min() does not clip -> neither
    assert low.item() == pytest.approx(1 / 4) and high.item() == pytest.approx(1 / 4)
    # a sequence advantage broadcasts: A = -1 everywhere, so tokens 1 and 3 (ratio 0.5) bind
    low, high = clip_fractions(logp, old, torch.tensor([-1.0]), mask)
    assert (low.item(), high.item()) == (pytest.approx(0.5), 0.0)


def test_dynamic_sampling_judges_raw_correctness():
    correct = torch.tensor([True, True, False, True, False, False, True, True])
    groups = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    assert varied_groups(correct, groups).tolist() == [False, False, True, True] + [False] * 4


def test_dynamic_sampling_on_a_continuous_reward_drops_only_constant_groups():
    rewards = torch.tensor([0.3, 0.3, 0.3, 0.7, -1.0, -1.0])
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    assert varied_groups(rewards, groups).tolist() == [False, False, True, True, False, False]


def test_overlong_penalty_by_hand():
    lengths = torch.tensor([10, 12, 14, 16, 17])
    # L_max 16, cache 4: free up to 12, then (12 - len) / 4, -1 beyond 16
    pen = overlong_penalty(lengths, max_len=16, cache_len=4)
    assert torch.allclose(pen, torch.tensor([0.0, 0.0, -0.5, -1.0, -1.0]))


def test_mask_truncated():
    m = torch.ones(2, 3)
    out = mask_truncated(m, torch.tensor([True, False]))
    assert out.tolist() == [[0, 0, 0], [1, 1, 1]]


def test_gppo_value_equals_clip_higher_but_clipped_tokens_keep_a_bounded_gradient():
    ratios = torch.tensor([[1.5, 1.0, 0.5, 20.0]])
    adv = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    kw = {"eps_low": 0.2, "eps_high": 0.28, "dual_clip": 10.0}
    grads = {}
    for name in ("clip", "gppo"):
        logp = torch.log(ratios).requires_grad_(True)
        loss = POLICY_LOSSES[name](logp, torch.zeros_like(logp), adv, **kw)
        loss.sum().backward()
        grads[name] = (loss.detach(), logp.grad)
    # values by hand: max(-rho A, -clip(rho) A), dual clip min(., -c A) for A < 0
    expected = torch.tensor([[-1.28, -1.0, 0.8, 10.0]])
    assert torch.allclose(grads["clip"][0], expected)
    assert torch.allclose(grads["gppo"][0], expected)
    # d loss / d logp: PPO zeroes clipped tokens; GPPO gives -A (1 + eps_h), -A (1 - eps_l), -c A
    assert torch.allclose(grads["clip"][1], torch.tensor([[0.0, -1.0, 0.0, 0.0]]))
    assert torch.allclose(grads["gppo"][1], torch.tensor([[-1.28, -1.0, 0.8, 10.0]]))


def test_gfpo_keeps_the_k_shortest_and_normalises_over_them_only():
    from priorlab.algos import gfpo_advantage, keep_top_k

    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    lengths = torch.tensor([10.0, 3.0, 5.0, 8.0, 4.0, 4.0])
    group_ids = torch.tensor([0, 0, 0, 0, 1, 1])
    keep = keep_top_k(lengths, group_ids, 2)
    assert keep.tolist() == [False, True, True, False, True, True]
    adv = gfpo_advantage(rewards, group_ids, keep)
    # group 0 keeps rewards (0, 1): mean 0.5, unbiased std 1/sqrt(2); group 1: equal rewards
    s = 1 / math.sqrt(2)
    assert torch.allclose(adv, torch.tensor([0.0, -0.5 / (s + 1e-6), 0.5 / (s + 1e-6), 0, 0, 0]))


def test_experts_keep_full_reward_only():
    # dense_steps on 2-step problems: (matching steps + correct) / 3
    rewards = torch.tensor([1.0, 2 / 3, 1 / 3, 0.0])  # all right; wrong answer with 2 steps...
    assert experts(rewards).tolist() == [True, False, False, False]
    assert experts(rewards, threshold=0.5).tolist() == [True, True, False, False]
    assert experts(torch.tensor([1.0, 0.0])).tolist() == [True, False]  # the verifier: correct


# a student S and a teacher T over a 3-token vocabulary
S, T = [0.5, 0.3, 0.2], [0.2, 0.2, 0.6]


def _kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q))


@pytest.mark.parametrize(
    "alpha, expected",
    [
        (0.0, _kl(T, S)),  # forward KL: 0.2 ln .4 + 0.2 ln(2/3) + 0.6 ln 3 = 0.3948
        (1.0, _kl(S, T)),  # reverse KL: 0.5 ln 2.5 + 0.3 ln 1.5 + 0.2 ln(1/3) = 0.3601
        # M = (0.35, 0.25, 0.4): 0.5 KL(T || M) + 0.5 KL(S || M) = 0.0906
        (0.5, 0.5 * _kl(T, [0.35, 0.25, 0.4]) + 0.5 * _kl(S, [0.35, 0.25, 0.4])),
        # M = 0.75 S + 0.25 T = (0.425, 0.275, 0.3): 0.25 KL(T || M) + 0.75 KL(S || M)
        (0.25, 0.25 * _kl(T, [0.425, 0.275, 0.3]) + 0.75 * _kl(S, [0.425, 0.275, 0.3])),
    ],
)
def test_generalized_jsd_by_hand_on_three_tokens(alpha, expected):
    student, teacher = torch.log(torch.tensor([S])), torch.log(torch.tensor([T]))
    got = generalized_jsd(student, teacher, alpha=alpha)
    assert got.shape == (1,) and got.item() == pytest.approx(expected, rel=1e-5)


def test_generalized_jsd_is_zero_on_equal_distributions_and_stops_the_teachers_gradient():
    student = torch.log(torch.tensor([[S, T]])).requires_grad_()  # (1, 2, 3)
    teacher = torch.log(torch.tensor([[T, T]])).requires_grad_()
    d = generalized_jsd(student, teacher, alpha=0.5)
    assert d.shape == (1, 2) and d[0, 1].item() == pytest.approx(0.0, abs=1e-7)
    d.sum().backward()
    assert teacher.grad is None and student.grad.abs().sum() > 0


def test_truncated_is_weight_by_hand():
    # old_logp - sampler_logp = [0, ln 1.5, ln 3, -ln 2] -> ratios [1, 1.5, 3, 0.5], cap 2
    old = torch.log(torch.tensor([[0.5, 0.3, 0.6, 0.1]]))
    sampler = torch.log(torch.tensor([[0.5, 0.2, 0.2, 0.2]]))
    w = truncated_is_weight(old.requires_grad_(), sampler, cap=2.0)
    assert torch.allclose(w, torch.tensor([[1.0, 1.5, 2.0, 0.5]]))
    assert not w.requires_grad


def test_approx_kl_is_cleanrls_k3_of_kl_old_to_new():
    """rho = pi / pi_old = 2 on the real token: (rho - 1) - ln rho = 1 - ln 2 = 0.3069; the
    padded token (rho = 1/2) is not counted. Before the fix it read KL(pi || pi_old)'s k3,
    1/rho - 1 + ln rho = 0.1931."""
    from priorlab.algos import approx_kl

    old = torch.log(torch.tensor([[0.2, 0.4]]))
    logp = torch.log(torch.tensor([[0.4, 0.2]]))
    got = approx_kl(logp, old, torch.tensor([[1.0, 0.0]]))
    assert got.item() == pytest.approx(1 - math.log(2), rel=1e-6)
