"""ProRL's reference reset (issue 26 item 3): the reference equals the policy right after a
reset, the optimizer state is cleared when asked, and a run records each reset."""

import json

import pytest
import torch

from priorlab.algos.presets import make_algorithm
from priorlab.errors import ConfigError
from priorlab.models import build_policy
from priorlab.optim import make_optimizer
from priorlab.train import reset_reference, train
from tests.test_train import small


def _stepped():
    policy = build_policy("0.1m", max_len=32, seed=0)
    opt = make_optimizer(policy.model, 1e-2)
    loss = sum(p.sum() for p in policy.model.parameters())
    loss.backward()
    opt.step()  # the policy moves and AdamW holds moments
    return policy, opt


@pytest.mark.parametrize("clear", [True, False])
def test_a_reset_reference_is_the_current_policy_frozen(clear):
    policy, opt = _stepped()
    ref = reset_reference(policy, opt, clear_optimizer=clear)
    for (name, p), (_, r) in zip(policy.model.named_parameters(), ref.model.named_parameters()):
        assert torch.equal(p, r), name
        assert not r.requires_grad and r.data_ptr() != p.data_ptr()  # a copy, not the policy
    assert (len(opt.state) == 0) is clear


def test_a_run_resets_its_reference_every_n_steps(tiny_prior, tmp_path):
    cfg = small(tiny_prior, tmp_path / "r", algo="prorl", algo_params={"ref_reset_every": 2},
                rollout_budget=64, prompts_per_step=4, group_size=4)  # fmt: skip
    summary = train(cfg, quiet=True)
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").open()]
    resets = sum(1 for r in rows if r.get("ref/reset"))
    assert summary["steps"] >= 2 and resets == summary["steps"] // 2


@pytest.mark.parametrize(
    "params, field",
    [({"ref_reset_every": -1}, "algo.ref_reset_every"),
     ({"ref_reset_every": 4, "kl_coef": 0.0}, "algo.ref_reset_every"),
     ({"ref_reset_every": 0, "ref_reset_optimizer": True}, "algo.ref_reset_optimizer")],
)  # fmt: skip
def test_bad_reset_settings_name_the_field(params, field):
    with pytest.raises(ConfigError) as err:
        make_algorithm("prorl", **params)
    assert err.value.field == field


def test_prorl_is_grpo_with_decoupled_clip_dynamic_sampling_and_resets():
    algo = make_algorithm("prorl")
    assert (algo.eps_low, algo.eps_high, algo.dynamic_sampling) == (0.2, 0.4, True)
    assert (algo.kl_coef, algo.ref_reset_every, algo.ref_reset_optimizer) == (1e-4, 16, True)
