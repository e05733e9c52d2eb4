"""The loss terms the update sums (algos/terms.py), each against a hand-computed value, and
their composition by bind."""

import math
from functools import partial
from types import SimpleNamespace

import pytest
import torch

from priorlab.algos import PRESETS, Forward, Term, bind, make_algorithm, total
from priorlab.algos.losses import AGGREGATIONS, generalized_jsd
from priorlab.algos.terms import distill_term, entropy_term, kl_term, policy_term, value_term

MEAN = AGGREGATIONS["token_mean"]


def _mb(**fields):
    """A one-row minibatch of two tokens, the second one padding."""
    base = dict(
        loss_mask=torch.tensor([[1.0, 0.0]]),
        adv=torch.tensor([2.0]),
        samples=SimpleNamespace(logp=torch.log(torch.tensor([[0.5, 0.5]]))),
        sampler_logp=None,
        extras={},
    )
    return SimpleNamespace(**(base | fields))


def _vanilla(logp, old_logp, adv):  # -A rho, per token
    return -(logp - old_logp).exp() * (adv[:, None] if adv.dim() == 1 else adv)


def test_policy_term_is_the_aggregated_loss_weighted_by_the_capped_is_weight():
    fwd = Forward(logp=torch.log(torch.tensor([[0.6, 0.9]])), entropy=torch.zeros(1, 2))
    term = partial(policy_term, per_token_loss=_vanilla, aggregate=MEAN, is_cap=2.0)
    loss, stats = term(_mb(), fwd)
    assert loss.item() == pytest.approx(-2 * 0.6 / 0.5)  # -A rho on the one real token
    assert stats == {"loss/policy": pytest.approx(-2.4)}
    # a separate sampler gave the token 0.1: w = min(0.5 / 0.1, 2) = 2 doubles the loss
    sampled = _mb(sampler_logp=torch.log(torch.tensor([[0.1, 0.1]])))
    loss, stats = term(sampled, fwd)
    assert loss.item() == pytest.approx(-4.8) and stats["policy/is_weight"] == pytest.approx(2.0)
    unweighted = partial(policy_term, per_token_loss=_vanilla, aggregate=MEAN, is_cap=0.0)
    assert unweighted(sampled, fwd)[0].item() == pytest.approx(-2.4)  # cap 0: no weight


def test_kl_term_adds_coef_times_kl_or_only_reports_it():
    fwd = Forward(logp=torch.tensor([[-1.0, 0.0]]), entropy=torch.zeros(1, 2))
    mb = _mb(ref_logp=torch.tensor([[-1.5, 0.0]]))
    k1 = partial(kl_term, kl=lambda logp, ref: logp - ref, aggregate=MEAN)
    loss, stats = partial(k1, coef=0.1)(mb, fwd)
    assert loss.item() == pytest.approx(0.1 * 0.5) and stats == {"loss/kl": pytest.approx(0.5)}
    loss, stats = partial(k1, coef=0.0)(mb, fwd)  # PPO: the KL is in the reward
    assert loss is None and stats == {"loss/kl": pytest.approx(0.5)}


def test_entropy_term_is_a_bonus():
    fwd = Forward(logp=torch.zeros(1, 2), entropy=torch.tensor([[0.7, 9.0]]))
    loss, stats = partial(entropy_term, coef=0.01, aggregate=MEAN)(_mb(), fwd)
    assert loss.item() == pytest.approx(-0.007) and stats == {}


def test_value_term_is_coef_times_the_clipped_value_loss():
    # V 1.0 from V_old 0.5 (clipped to 0.7), return 0: 0.5 max(1.0^2, 0.7^2) = 0.5
    fwd = Forward(logp=torch.zeros(1, 2), entropy=torch.zeros(1, 2), values=torch.ones(1, 2))
    mb = _mb(values=torch.full((1, 2), 0.5), returns=torch.zeros(1, 2))
    loss, stats = partial(value_term, coef=0.5)(mb, fwd)
    assert loss.item() == pytest.approx(0.25) and stats == {"loss/value": pytest.approx(0.5)}


def test_distill_term_reads_the_teachers_distribution_on_taught_rows_only():
    student = torch.log(torch.tensor([[[0.5, 0.5], [0.5, 0.5]], [[0.9, 0.1], [0.9, 0.1]]]))
    teacher = torch.log(torch.tensor([[[0.9, 0.1], [0.9, 0.1]], [[0.5, 0.5], [0.5, 0.5]]]))
    fwd = Forward(logp=torch.zeros(2, 2), entropy=torch.zeros(2, 2), logprobs=student)
    mb = _mb(loss_mask=torch.tensor([[1.0, 0.0], [0.0, 0.0]]), extras={"teacher_logp": teacher})
    reverse_kl = partial(generalized_jsd, alpha=1.0)  # KL(S || T) per position
    loss, stats = partial(distill_term, divergence=reverse_kl, aggregate=MEAN)(mb, fwd)
    by_hand = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)  # row 0, token 0 alone
    assert loss.item() == pytest.approx(by_hand, rel=1e-5)
    assert stats == {"loss/distill": pytest.approx(by_hand, rel=1e-5)}


def test_total_sums_the_terms_in_order_and_skips_report_only_ones():
    terms = [
        Term(lambda mb, fwd: (torch.tensor(1.0), {"a": 1.0})),
        Term(lambda mb, fwd: (None, {"b": 2.0})),
        Term(lambda mb, fwd: (torch.tensor(0.5), {})),
    ]
    loss, stats = total(terms, None, None)
    assert loss.item() == 1.5 and stats == {"a": 1.0, "b": 2.0}


def test_bind_composes_policy_source_kl_entropy_and_value_terms():
    def names(parts):
        return [t.fn.func.__name__ for t in parts.terms]

    assert names(bind(PRESETS["dapo"], max_new_tokens=8)) == ["policy_term"]
    assert names(bind(PRESETS["grpo"], max_new_tokens=8)) == ["policy_term", "kl_term"]
    ppo = make_algorithm("ppo", entropy_coef=0.01)
    assert names(bind(ppo, max_new_tokens=8)) == [
        "policy_term",
        "kl_term",
        "entropy_term",
        "value_term",
    ]
    # a source's own term comes after the policy loss, aggregated like it
    own = Term(partial(distill_term, divergence=generalized_jsd), full_vocab=True)
    sdpo = bind(PRESETS["dapo"], max_new_tokens=8, terms=(own,))
    assert names(sdpo) == ["policy_term", "distill_term"] and sdpo.full_vocab
    assert sdpo.terms[1].fn.keywords["aggregate"] is sdpo.aggregate
    assert not bind(PRESETS["dapo"], max_new_tokens=8).full_vocab
