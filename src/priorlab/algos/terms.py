"""The loss terms an update sums, each `term(mb, fwd) -> (loss or None, stats)`.

`bind` composes an algorithm's terms once (policy loss, the reward source's own terms,
KL, entropy, value), with their hyper-parameters bound by `functools.partial`; the update
sums them over each minibatch and never asks which method it runs. A term reads the
minibatch `mb` (a Batch: loss_mask, adv, samples.logp, ref_logp, values, returns, extras)
and its forward pass `fwd` (Forward), and returns its contribution to the loss (None when
it only reports) and the stats it logs. A new term is one function here plus its binding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from priorlab.algos.losses import clipped_value_loss, token_mean, truncated_is_weight


@dataclass(frozen=True)
class Forward:
    """The policy's forward pass on a minibatch: log-probs of the sampled tokens, entropies
    and values (B, T), and the full next-token log-probs (B, T, V) when a term reads them."""

    logp: Tensor
    entropy: Tensor
    values: Tensor | None = None
    logprobs: Tensor | None = None


@dataclass(frozen=True)
class Term:
    """One bound loss term; `full_vocab`: it reads fwd.logprobs (B, T, V)."""

    fn: Callable  # (mb, fwd) -> (loss scalar or None, stats)
    full_vocab: bool = False

    def __call__(self, mb, fwd: Forward):
        return self.fn(mb, fwd)


def policy_term(mb, fwd: Forward, *, per_token_loss, aggregate, is_cap: float):
    """agg(l(rho, A) * w) over the loss mask: the policy loss, each token's loss weighted by
    the truncated importance weight w = min(pi_old / pi_sampler, is_cap) when a separate
    engine sampled the batch (is_cap > 0 and mb.sampler_logp set), else w = 1."""
    mask, old_logp = mb.loss_mask, mb.samples.logp
    loss_mat = per_token_loss(fwd.logp, old_logp, mb.adv)  # (B, T)
    stats = {}
    if is_cap and mb.sampler_logp is not None:  # vLLM's mismatch
        w = truncated_is_weight(old_logp, mb.sampler_logp, cap=is_cap)
        loss_mat = loss_mat * w
        stats["policy/is_weight"] = token_mean(w, mask).item()
    loss = aggregate(loss_mat, mask)
    stats["loss/policy"] = loss.item()
    return loss, stats


def distill_term(mb, fwd: Forward, *, divergence, aggregate):
    """agg(D(pi(.|s_t) || teacher(.|s_t))) over the loss mask: the divergence of the
    student's full distribution from the teacher's (mb.extras["teacher_logp"], (B, T, V)),
    computed on the rows the loss reads (SDPO's jsd; the others stay 0)."""
    mask = mb.loss_mask
    rows = mask.sum(1) > 0
    div = torch.zeros_like(mask)  # (B, T)
    div[rows] = divergence(fwd.logprobs[rows], mb.extras["teacher_logp"][rows])
    loss = aggregate(div, mask)
    return loss, {"loss/distill": loss.item()}


def kl_term(mb, fwd: Forward, *, kl, coef: float, aggregate):
    """coef * agg(KL(pi || pi_ref)) per token over the loss mask; coef 0: the KL is in the
    reward instead (PPO), and the term only reports it (token mean)."""
    kl_mat = kl(fwd.logp, mb.ref_logp)  # (B, T)
    stats = {"loss/kl": token_mean(kl_mat, mb.loss_mask).item()}
    return (coef * aggregate(kl_mat, mb.loss_mask) if coef else None), stats


def entropy_term(mb, fwd: Forward, *, coef: float, aggregate):
    """-coef * agg(H(pi(.|s_t))): an entropy bonus over the loss mask."""
    return -(coef * aggregate(fwd.entropy, mb.loss_mask)), {}


def value_term(mb, fwd: Forward, *, coef: float):
    """coef * PPO's clipped value loss against the GAE returns (the critic's term)."""
    vloss = clipped_value_loss(fwd.values, mb.values, mb.returns, mb.loss_mask)
    return coef * vloss, {"loss/value": vloss.item()}


def total(terms, mb, fwd: Forward) -> tuple[Tensor, dict]:
    """The sum of the terms' losses, in their order, and their stats."""
    loss, stats = None, {}
    for term in terms:
        part, term_stats = term(mb, fwd)
        stats.update(term_stats)
        if part is not None:
            loss = part if loss is None else loss + part
    return loss, stats
