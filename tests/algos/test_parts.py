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
