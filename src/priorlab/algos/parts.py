"""An algorithm preset turned into ready-to-call parts once, at the config boundary.

In the spirit of optax: each part is a small function with its hyper-parameters bound
(`functools.partial`), so the training loop calls `parts.estimate(batch)` and sums
`parts.terms` (algos/terms.py) and never branches on a method's name. A new variant is a
new binding, not a new branch.

Advantage estimators read a batch (duck-typed: rewards, group_ids, samples, extras, and
the optional values, ref_logp) and return (advantages, returns or None):
- own: the reward source supplies per-token advantages (SDPO);
- per_step: a dense source's per-step rewards, normalised per step (Delta-Belief);
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

from priorlab.algos.advantages import ADVANTAGES, gae, per_step_grpo
from priorlab.algos.filters import keep_top_k
from priorlab.algos.losses import AGGREGATIONS, CLIPPED_LOSSES, KL_ESTIMATORS, POLICY_LOSSES
from priorlab.algos.presets import SHARED_LOSS_ARGS, Algorithm
from priorlab.algos.terms import Term, entropy_term, kl_term, policy_term, value_term
from priorlab.errors import lookup


@dataclass(frozen=True)
class Parts:
    """What the online update calls; built by `bind(algo, ...)`."""

    estimate: Callable  # batch -> (adv (B,) or (B, T), returns (B, T) or None)
    terms: tuple[Term, ...]  # summed by the update: policy, the source's own, KL, entropy, value
    per_token_loss: Callable  # (logp, old_logp, adv) -> (B, T); also the offline loops'
    aggregate: Callable  # (loss (B, T), mask (B, T)) -> scalar
    kl: Callable | None  # (logp, ref_logp) -> (B, T); None when there is no KL reference
    clip: dict | None  # eps_low, eps_high of a clipped loss (for its clip fractions)

    @property
    def full_vocab(self) -> bool:
        """A term reads the full next-token log-probs (B, T, V)."""
        return any(term.full_vocab for term in self.terms)


def bind(
    algo: Algorithm,
    *,
    max_new_tokens: int,
    estimator: Callable | None = None,
    terms: tuple[Term, ...] = (),
    is_cap: float = 0.0,
) -> Parts:
    """Bind `algo`'s estimator and loss terms. `estimator`: the reward source's own (its
    per-token advantages, or its per-step rewards), which replaces the algorithm's; `terms`:
    the source's own loss terms (SDPO's distillation), given the algorithm's aggregation
    and summed after the policy loss;
    `is_cap`: the truncated importance weight's cap for a separate sampler (0: none)."""
    loss_fn = lookup(POLICY_LOSSES, algo.policy_loss, "policy loss")
    clipped = algo.policy_loss in CLIPPED_LOSSES
    loss_fn = partial(loss_fn, **loss_arguments(loss_fn, algo))
    aggregate = lookup(AGGREGATIONS, algo.aggregation, "aggregation")
    if algo.aggregation == "seq_sum_norm":  # Dr. GRPO: a constant, the generation budget
        aggregate = partial(aggregate, norm_len=max_new_tokens)
    kl = lookup(KL_ESTIMATORS, algo.kl_estimator, "KL estimator") if algo.kl_coef > 0 else None
    policy = partial(policy_term, per_token_loss=loss_fn, aggregate=aggregate, is_cap=is_cap)
    bound = [Term(policy), *(Term(partial(t.fn, aggregate=aggregate), t.full_vocab) for t in terms)]
    if kl is not None:
        coef = 0.0 if algo.kl_in_reward else algo.kl_coef  # in the reward: reported only
        bound.append(Term(partial(kl_term, kl=kl, coef=coef, aggregate=aggregate)))
    if algo.entropy_coef:
        bound.append(Term(partial(entropy_term, coef=algo.entropy_coef, aggregate=aggregate)))
    if algo.critic:
        bound.append(Term(partial(value_term, coef=algo.vf_coef)))
    return Parts(
        estimate=estimator or algorithm_estimator(algo),
        terms=tuple(bound),
        per_token_loss=loss_fn,
        aggregate=aggregate,
        kl=kl,
        clip={"eps_low": algo.eps_low, "eps_high": algo.eps_high} if clipped else None,
    )


def algorithm_estimator(algo: Algorithm) -> Callable:
    """The preset's advantage estimator: GAE on a critic, GFPO's filtered group estimator,
    or a group estimator."""
    if algo.critic:
        kl_in_reward = algo.kl_coef if algo.kl_in_reward else 0.0
        kl_fn = lookup(KL_ESTIMATORS, algo.kl_estimator, "KL estimator")
        return partial(
            gae_estimate,
            gamma=algo.gamma,
            lam=algo.lam,
            kl=kl_fn if kl_in_reward else None,
            kl_coef=kl_in_reward,
            whiten_adv=algo.whiten_adv,
        )
    if algo.keep_top:
        keep = partial(gfpo_keep, k=algo.keep_top, metric=algo.keep_metric)
        return partial(filtered, keep=keep, estimator=_estimator(algo))
    return partial(group, estimator=_estimator(algo))


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
    """The reward source's per-token advantages (extras "token_adv", (B, T); SDPO's)."""
    return batch.extras["token_adv"], None


def per_step(batch):
    """A dense source's per-step rewards (extras "step_rewards", "step_mask" (B, S)) as
    per-token advantages: GRPO per step index within groups, returns to go (per_step_grpo),
    each token given its step's ("token_step" (B, T); -1 past the response)."""
    step_adv = per_step_grpo(
        batch.extras["step_rewards"], batch.extras["step_mask"], batch.group_ids
    )  # (B, S)
    token_step = batch.extras["token_step"]
    adv = torch.where(token_step >= 0, step_adv.gather(1, token_step.clamp(min=0)), 0.0)
    return adv.to(batch.samples.logp.device), None  # (B, T)


def role_grpo(rows):
    """A role's samples (SERL's judge, RARO's critic): GRPO on their rewards; (B,)."""
    return ADVANTAGES["grpo"](rows.rewards, rows.group_ids)


def reward_weighted(rows):
    """A_{i,t} = sg(R_i) on the tokens of row i's loss mask (VeriFree's likelihood term:
    the reference answer, weighted by its probability); (B, T)."""
    return rows.rewards[:, None] * rows.loss_mask


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
