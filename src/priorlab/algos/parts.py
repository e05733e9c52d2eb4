"""An algorithm preset turned into ready-to-call parts once, at the config boundary.

In the spirit of optax: each part is a small function with its hyper-parameters bound
(`functools.partial`), so the training loop calls `parts.estimate(batch)`,
`parts.per_token_loss(logp, old_logp, adv)`, `parts.aggregate(loss, mask)` and never
branches on a method's name. A new variant is a new binding, not a new branch.

Advantage estimators read a batch (duck-typed: rewards, group_ids, samples, and the
optional token_adv, values, ref_logp) and return (advantages, returns or None):
- own: the reward source supplies per-token advantages (Delta-Belief, SDPO);
- group: a registered estimator of rewards within groups (GRPO, RLOO, REINFORCE++ ...);
- filtered: GFPO, a filter (keep_top_k on a metric) then the same group estimator on the
  kept rows, 0 for the rest (Shrivastava et al. 2025);
- gae: a critic's GAE with the KL penalty in the reward when asked (PPO).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from priorlab.algos.advantages import ADVANTAGES, gae
from priorlab.algos.filters import keep_top_k
from priorlab.algos.losses import AGGREGATIONS, CLIPPED_LOSSES, KL_ESTIMATORS, POLICY_LOSSES
from priorlab.algos.presets import SHARED_LOSS_ARGS, Algorithm
from priorlab.errors import lookup


@dataclass(frozen=True)
class Parts:
    """What the online update calls; built by `bind(algo, ...)`."""

    estimate: Callable  # batch -> (adv (B,) or (B, T), returns (B, T) or None)
    per_token_loss: Callable  # (logp, old_logp, adv) -> (B, T)
    aggregate: Callable  # (loss (B, T), mask (B, T)) -> scalar
    kl: Callable | None  # (logp, ref_logp) -> (B, T); None when there is no KL reference
    clip: dict | None  # eps_low, eps_high of a clipped loss (for its clip fractions)


def bind(algo: Algorithm, *, max_new_tokens: int, own_advantages: bool = False) -> Parts:
    """Bind `algo`'s estimator, loss, aggregation and KL estimator. `own_advantages`: the
    reward source supplies per-token advantages, which replace the estimator."""
    if own_advantages:
        estimate = own
    elif algo.critic:
        kl_in_reward = algo.kl_coef if algo.kl_in_reward else 0.0
        kl_fn = lookup(KL_ESTIMATORS, algo.kl_estimator, "KL estimator")
        estimate = partial(
            gae_estimate,
            gamma=algo.gamma,
            lam=algo.lam,
            kl=kl_fn if kl_in_reward else None,
            kl_coef=kl_in_reward,
            whiten_adv=algo.whiten_adv,
        )
    elif algo.keep_top:
        keep = partial(gfpo_keep, k=algo.keep_top, metric=algo.keep_metric)
        estimate = partial(filtered, keep=keep, estimator=_estimator(algo))
    else:
        estimate = partial(group, estimator=_estimator(algo))
    loss_fn = lookup(POLICY_LOSSES, algo.policy_loss, "policy loss")
    clipped = algo.policy_loss in CLIPPED_LOSSES
    loss_fn = partial(loss_fn, **loss_arguments(loss_fn, algo))
    aggregate = lookup(AGGREGATIONS, algo.aggregation, "aggregation")
    if algo.aggregation == "seq_sum_norm":  # Dr. GRPO: a constant, the generation budget
        aggregate = partial(aggregate, norm_len=max_new_tokens)
    return Parts(
        estimate=estimate,
        per_token_loss=loss_fn,
        aggregate=aggregate,
        kl=lookup(KL_ESTIMATORS, algo.kl_estimator, "KL estimator") if algo.kl_coef > 0 else None,
        clip={"eps_low": algo.eps_low, "eps_high": algo.eps_high} if clipped else None,
    )


def loss_arguments(loss_fn: Callable, algo: Algorithm) -> dict:
    """The loss's keyword-only arguments from `algo`: the shared clip fields it takes
    (eps_low, eps_high, dual_clip) and its own `loss_params`; others keep their defaults."""
    names = [
        p.name for p in inspect.signature(loss_fn).parameters.values() if p.kind == p.KEYWORD_ONLY
    ]
    shared = {name: getattr(algo, name) for name in names if name in SHARED_LOSS_ARGS}
    return shared | dict(algo.loss_params)


def _estimator(algo: Algorithm) -> Callable:
    return lookup(ADVANTAGES, algo.advantage, "advantage")


def own(batch):
    """The reward source's per-token advantages."""
    return batch.token_adv, None


def group(batch, *, estimator):
    """A group estimator on the batch's rewards."""
    return estimator(batch.rewards, batch.group_ids, tokens=batch.samples.lengths), None


def gfpo_keep(batch, *, k: int, metric: str) -> torch.Tensor:
    """GFPO's filter: the k shortest rows of each group (metric "length"), or the k with the
    best reward per token ("reward_per_token")."""
    lengths = batch.samples.lengths.float()
    value = lengths if metric == "length" else -batch.rewards / lengths.clamp(min=1)
    return keep_top_k(value, batch.group_ids, k)


def filtered(batch, *, keep: Callable, estimator: Callable):
    """`estimator` on the rows `keep(batch)` selects, within their groups; 0 elsewhere."""
    kept = keep(batch)
    adv = torch.zeros_like(batch.rewards, dtype=torch.float32)
    lengths = batch.samples.lengths[kept]
    adv[kept] = estimator(batch.rewards[kept], batch.group_ids[kept], tokens=lengths).float()
    return adv, None


def gae_estimate(batch, *, gamma, lam, kl, kl_coef, whiten_adv):
    """GAE on the critic's values (batch.values) with the outcome reward on the last token,
    less kl_coef x KL to the reference on every token when the KL is in the reward."""
    s = batch.samples
    token_rewards = torch.zeros_like(s.logp)  # (B, T)
    token_rewards[torch.arange(len(batch)), (s.lengths - 1).clamp(min=0)] = batch.rewards
    if kl is not None:
        token_rewards = token_rewards - kl_coef * kl(s.logp, batch.ref_logp) * s.mask
    adv, returns = gae(token_rewards, batch.values, s.mask, gamma=gamma, lam=lam)
    if whiten_adv:
        m = s.mask.bool()
        adv = torch.where(m, (adv - adv[m].mean()) / (adv[m].std() + 1e-8), adv)
    return adv, returns
