"""algos.bind: a preset becomes ready-to-call parts, hyper-parameters bound once."""

from types import SimpleNamespace

import pytest
import torch

from priorlab.algos import PRESETS, bind, gfpo_advantage, make_algorithm
from priorlab.algos.advantages import dr_grpo


def _batch(rewards, group_ids, lengths):
    samples = SimpleNamespace(lengths=torch.tensor(lengths))
    return SimpleNamespace(
        rewards=torch.tensor(rewards), group_ids=torch.tensor(group_ids), samples=samples
    )


def test_gfpo_is_a_filter_then_its_group_estimator():
    # groups of 4; keep the 2 shortest of each: rows 0, 2 (group 0) and 4, 5 (group 1)
    batch = _batch(
        [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [0] * 4 + [1] * 4, [3, 9, 4, 8, 2, 5, 7, 6]
    )
    gfpo = make_algorithm("gfpo", keep_top=2)  # the preset keeps 4 of larger groups
    adv, returns = bind(gfpo, max_new_tokens=16).estimate(batch)
    keep = torch.tensor([True, False, True, False, True, True, False, False])
    assert torch.allclose(adv, gfpo_advantage(batch.rewards, batch.group_ids, keep))
    assert returns is None
    # by hand: group 0 kept rewards (1, 0): mean 0.5, sd 0.7071 -> +-0.7071
    assert adv[[0, 2]].tolist() == torch.tensor([0.5, -0.5]).div(0.5**0.5 + 1e-6).tolist()
    assert adv[[1, 3, 6, 7]].tolist() == [0.0] * 4


def test_an_advantage_override_reaches_gfpo():
    """Before bind, GFPO's own normalisation silently ignored `advantage`."""
    batch = _batch([1.0, 0.0, 0.0, 1.0], [0] * 4, [3, 9, 4, 8])
    algo = make_algorithm("gfpo", advantage="dr_grpo", keep_top=2)
    adv, _ = bind(algo, max_new_tokens=16).estimate(batch)
    kept = torch.tensor([0, 2])
    expected = dr_grpo(batch.rewards[kept], batch.group_ids[kept])
    assert adv[kept].tolist() == expected.tolist() == [0.5, -0.5]


def test_losses_and_aggregations_come_with_their_constants_bound():
    dr = bind(PRESETS["dr_grpo"], max_new_tokens=10)
    loss, mask = torch.ones(2, 4), torch.tensor([[1.0, 1, 0, 0], [1, 1, 1, 1]])
    assert dr.aggregate(loss, mask).item() == pytest.approx((2 + 4) / (2 * 10))  # by budget
    dapo = bind(PRESETS["dapo"], max_new_tokens=10)
    assert dapo.clip == {"eps_low": 0.2, "eps_high": 0.28} and dapo.kl is None
    logp, old = torch.log(torch.tensor([[2.0]])), torch.zeros(1, 1)
    # ratio 2, A = 1: the clip binds at 1 + eps_high = 1.28 -> loss -1.28
    assert torch.allclose(
        dapo.per_token_loss(logp, old, torch.tensor([1.0])), torch.tensor([[-1.28]])
    )
    assert bind(PRESETS["grpo"], max_new_tokens=10).kl is not None


def test_cispo_clips_the_is_weight_and_keeps_every_tokens_gradient():
    """By hand: ratios e^(logp - old) = 2, 0.5, 1; A = 1, -1, 1; w = clip(ratio, 0, 1.28)
    = 1.28, 0.5, 1 (stop-gradient); loss = -w A logp; d loss / d logp = -w A."""
    from priorlab.algos.losses import cispo

    old = torch.log(torch.tensor([[0.2, 0.4, 0.5]]))
    logp = torch.log(torch.tensor([[0.4, 0.2, 0.5]])).requires_grad_()
    adv = torch.tensor([[1.0, -1.0, 1.0]])
    loss = cispo(logp, old, adv, is_eps_high=0.28)
    w = torch.tensor([[1.28, 0.5, 1.0]])
    assert torch.allclose(loss, -w * adv * logp.detach())
    loss.sum().backward()
    assert torch.allclose(logp.grad, -w * adv)  # the clipped token (ratio 2) still learns
    # its own parameter reaches it through loss_params, bound once
    algo = make_algorithm("cispo", loss_params={"is_eps_high": 0.5})
    bound = bind(algo, max_new_tokens=8).per_token_loss(logp.detach(), old, adv)
    assert torch.allclose(bound[0, 0], -1.5 * torch.log(torch.tensor(0.4)))


def test_unknown_loss_params_are_refused_by_name():
    from priorlab.errors import ConfigError

    with pytest.raises(ConfigError, match="algo.loss_params.eps: cispo takes no such parameter"):
        make_algorithm("cispo", loss_params={"eps": 0.1})
    with pytest.raises(ConfigError, match="accepted: none"):
        make_algorithm("grpo", loss_params={"is_eps_high": 0.1})


def test_a_field_added_later_leaves_existing_job_ids_alone():
    from dataclasses import asdict

    from priorlab.algos.presets import HASHED_WHEN_SET, identity

    grpo = PRESETS["grpo"]
    later = ("loss_params", "cond_lr", "ref_reset_every", "ref_reset_optimizer", "step_labels")
    assert set(later) == set(HASHED_WHEN_SET)
    assert identity(grpo) == {k: v for k, v in asdict(grpo).items() if k not in later}
    assert identity(PRESETS["cispo"])["loss_params"] == {"is_eps_high": 0.28}
