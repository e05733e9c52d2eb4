"""The guide's three worked extensions (examples/extending/): a policy loss, a reward source
and an objective term, each written outside priorlab. Each piece against hand-computed
values, then one brief training run from Python through its registered name."""

import importlib.util
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from priorlab import rewards
from priorlab.algos import Forward, bind, make_algorithm
from priorlab.algos.losses import AGGREGATIONS, POLICY_LOSSES
from priorlab.errors import ConfigError
from priorlab.rewards.base import RewardIn

EXAMPLES = Path(__file__).parents[1] / "examples" / "extending"
REGISTRIES = (POLICY_LOSSES, rewards.SOURCES)  # one table each (algos re-exports the losses')
MEAN = AGGREGATIONS["token_mean"]


@pytest.fixture
def example():
    """load(name): examples/extending/<name>.py imported afresh (registering its piece);
    every name it registered is removed from the registries after the test."""
    before = [set(registry) for registry in REGISTRIES]

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"extending_{name}", EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    yield load
    for registry, names in zip(REGISTRIES, before):
        for name in set(registry) - names:
            del registry[name]


def _weights_changed(prior: Path, run: Path) -> bool:
    old, new = load_file(prior / "model.safetensors"), load_file(run / "model.safetensors")
    return any(not torch.equal(old[k], new[k]) for k in old)


# --- a policy loss: TOPR -------------------------------------------------------------------


def test_topr_learns_good_tokens_fully_and_tapers_bad_ones(example):
    topr = example("loss").topr
    # rho = 2, 2, 0.5 (logp - old_logp = ln 2, ln 2, -ln 2); A = 1, -1, -1
    logp = torch.log(torch.tensor([[0.5, 0.5, 0.25]])).requires_grad_()
    old_logp = torch.log(torch.tensor([[0.25, 0.25, 0.5]]))
    adv = torch.tensor([[1.0, -1.0, -1.0]])
    # w = 1 (A >= 0), clip(2, 0, 1) = 1, clip(0.5, 0, 1) = 0.5
    # loss = -w A logp = -ln 0.5, +ln 0.5, 0.5 ln 0.25 = ln 2, -ln 2, -ln 2
    loss = topr(logp, old_logp, adv)
    assert loss.detach().tolist()[0] == pytest.approx([math.log(2), -math.log(2), -math.log(2)])
    loss.sum().backward()
    # d/dlogp = -w A: -1, 1, 0.5 (REINFORCE's -rho A would be -2, 2, 0.5)
    assert logp.grad.tolist()[0] == pytest.approx([-1.0, 1.0, 0.5])
    # a sequence advantage (B,) is each token's; the registered name is what a config uses
    parts = bind(make_algorithm("grpo", policy_loss="topr"), max_new_tokens=3)
    same = parts.per_token_loss(logp.detach(), old_logp, torch.tensor([-1.0]))
    assert same.tolist()[0] == pytest.approx([-math.log(2), -math.log(2), -math.log(2)])


def test_topr_trains_from_python(example, tiny_prior, tmp_path):
    steps = example("loss").main(str(tmp_path / "topr"), prior=str(tiny_prior))
    assert len(steps) == 4 and all(math.isfinite(row["loss/policy"]) for row in steps)
    config = json.loads((tmp_path / "topr" / "run" / "config.json").read_text())
    assert config["algo_resolved"]["policy_loss"] == "topr"
    assert _weights_changed(tiny_prior, tmp_path / "topr" / "run" / "policy")


# --- a reward source: the brevity-gated verifier -------------------------------------------


def test_brevity_verifier_pays_only_short_right_answers(example):
    module = example("reward")
    given = RewardIn(
        problems=[None] * 3,
        completions=[""] * 3,
        verdicts=[SimpleNamespace(correct=c) for c in (True, True, False)],
        samples=SimpleNamespace(lengths=torch.tensor([5, 9, 5])),
    )
    # max_tokens 8: right in 5 -> 1; right in 9 -> 0 (over budget); wrong in 5 -> 0
    out = module.brevity_verifier(given, max_tokens=8)
    assert out.rewards == [1.0, 0.0, 0.0]
    assert out.metrics == {"brevity/over_budget": pytest.approx(1 / 3)}  # one of three
    # registered: its parameters are reward_params, typed and checked by name
    assert rewards.reward_params("brevity_verifier") == {"max_tokens": 24}
    assert rewards.get_reward("brevity_verifier", max_tokens="8")(given).rewards == out.rewards
    with pytest.raises(ConfigError, match="reward_params.max_tokens: must be >= 1"):
        rewards.get_reward("brevity_verifier", max_tokens=0)


def test_brevity_verifier_trains_from_python(example, tiny_prior, tmp_path):
    steps = example("reward").main(str(tmp_path / "brevity"), prior=str(tiny_prior))
    assert len(steps) == 4
    for row in steps:
        assert 0.0 <= row["brevity/over_budget"] <= 1.0
        assert row["reward/mean"] <= row["task/accuracy"] + 1e-6  # the gate only takes away
    config = json.loads((tmp_path / "brevity" / "run" / "config.json").read_text())
    assert (config["reward"], config["reward_params"]) == ("brevity_verifier", {"max_tokens": 20})


# --- an objective term: the anchor to the sampling policy ----------------------------------


def test_anchor_term_is_k3_of_kl_from_the_sampling_policy(example):
    module = example("term")
    # rho = 2, 0.5, 1; the fourth token is padding
    logp = torch.log(torch.tensor([[0.5, 0.25, 0.5, 0.9]])).requires_grad_()
    mb = SimpleNamespace(
        samples=SimpleNamespace(logp=torch.log(torch.tensor([[0.25, 0.5, 0.5, 0.1]]))),
        loss_mask=torch.tensor([[1.0, 1.0, 1.0, 0.0]]),
    )
    fwd = Forward(logp=logp, entropy=torch.zeros(1, 4))
    # rho - 1 - ln rho = 1 - ln 2, -0.5 + ln 2, 0: token mean 0.5 / 3, times coef 0.1
    loss, stats = module.anchor_term(mb, fwd, coef=0.1, aggregate=MEAN)
    assert stats == {"loss/anchor": pytest.approx(0.5 / 3)}
    assert loss.item() == pytest.approx(0.1 * 0.5 / 3)
    loss.backward()
    # d/dlogp = coef (rho - 1) / 3 real tokens: 0.1 / 3, -0.05 / 3, 0; padding 0
    assert logp.grad.tolist()[0] == pytest.approx([0.1 / 3, -0.05 / 3, 0.0, 0.0])
    # declared by its source: bind puts it after the policy loss, coef from reward_params
    declared = rewards.source("dense_steps_anchored").terms(coef=0.2)
    parts = bind(make_algorithm("grpo", kl_coef=0.0), max_new_tokens=4, terms=declared)
    assert len(parts.terms) == 2  # the policy loss, the anchor
    bound, _ = parts.terms[1](mb, Forward(logp.detach(), torch.zeros(1, 4)))
    assert bound.item() == pytest.approx(0.2 * 0.5 / 3)  # one row: grpo's aggregation = mean


def test_anchor_term_trains_from_python(example, tiny_prior, tmp_path):
    steps = example("term").main(str(tmp_path / "anchor"), prior=str(tiny_prior))
    anchors = [row["loss/anchor"] for row in steps]
    assert len(anchors) == 4 and all(math.isfinite(a) and a >= 0 for a in anchors)
    assert max(anchors) > 0  # the minibatches after a step's first are off-policy
    assert _weights_changed(tiny_prior, tmp_path / "anchor" / "run" / "policy")
