"""SDPO: self-distillation from the same model shown a successful sibling.

Self-Distillation Policy Optimization (Hubotter et al. 2026, arXiv 2601.20802) has no
scalar advantage: the teacher is the policy itself re-prompted with feedback, here a
successful sibling sample of the same group (`hint` role), and the student is pulled
towards it on the response it sampled. Two divergences (`reward_params.divergence`):

- "jsd" (the paper's default): the generalised Jensen-Shannon divergence
  D_alpha(pi_theta || sg(pi_teacher)) over the full next-token distribution at every
  response position (`algos.losses.generalized_jsd`; alpha 0.5 the JSD, 0 the forward and
  1 the reverse KL, the authors' convention). The source returns the teacher's log-probs
  (B, T, V); its loss term (`terms`: algos.terms.distill_term) reads the student's full
  distribution and adds the divergence, aggregated like the policy loss. The per-token
  advantages are 0, so the policy loss carries no signal: the divergence replaces it.
  Memory: B x T x V floats for the teacher (V = 49,152 for SmolLM2).
- "sampled_reverse_kl" (cheaper, the default for compatibility): reverse KL on the sampled
  token. The gradient of KL(pi || sg(pi_teacher)) on pi's own samples is that of a policy
  gradient with per-token advantage

      A_t = log pi_teacher(y_t | hint, q, y_<t) - log pi_old(y_t | q, y_<t)

  so the algorithm's clipped loss and token aggregation carry it.

The teacher is the policy at sampling time, scored once (the authors use an EMA teacher,
top-100 logits plus a tail bucket; we use the full vocabulary and no IS weight). A sample
with no successful sibling other than itself has no teacher and is masked out (`keep`).
"""

from __future__ import annotations

from functools import partial

import torch

from priorlab.algos.losses import generalized_jsd
from priorlab.algos.terms import Term, distill_term
from priorlab.errors import ConfigError
from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.roles import hint_prompt, prompt_rows
from priorlab.rollout import Samples, next_token_logprobs, sequence_logp

DIVERGENCES = ("sampled_reverse_kl", "jsd")


def check_params(*, divergence: str = "sampled_reverse_kl", alpha: float = 0.5) -> None:
    """ConfigError naming reward_params.divergence or reward_params.alpha when invalid."""
    if divergence not in DIVERGENCES:
        raise ConfigError(
            "reward_params.divergence",
            f"unknown divergence {divergence!r}; accepted: {', '.join(DIVERGENCES)}",
        )
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ConfigError(
            "reward_params.alpha",
            f"must be a number in [0, 1] (0 forward KL, 0.5 JSD, 1 reverse KL), got {alpha!r}",
        )


def pick_teachers(correct: list[bool], group_ids: list[int], rng) -> list[int | None]:
    """For each row, a random correct row of its group other than itself, or None."""
    out = []
    for i, g in enumerate(group_ids):
        pool = [j for j, h in enumerate(group_ids) if h == g and j != i and correct[j]]
        out.append(rng.choice(pool) if pool else None)
    return out


def rows_of(samples: Samples, rows: list[int]) -> Samples:
    """`samples` restricted to `rows`."""
    idx = torch.tensor(rows, dtype=torch.long)
    return Samples(*(getattr(samples, f)[idx] for f in samples.__dataclass_fields__))


@torch.no_grad()
def sdpo(given: RewardIn, *, divergence="sampled_reverse_kl", alpha=0.5) -> RewardOut:
    """SDPO: self-distillation towards the policy shown a successful sibling.

    sampled_reverse_kl: per-token advantages log pi_teacher - log pi_old on rows that have
    a teacher, the logged reward their mean per row. jsd: the teacher's full log-probs for
    the update's D_alpha, the logged reward minus its mean per row at sampling time."""
    problems, completions, samples = given.problems, given.completions, given.samples
    policy, temperature = given.policy, given.temperature
    teachers = pick_teachers(
        [v.correct for v in given.verdicts], given.group_ids.tolist(), given.rng
    )
    rows = [i for i, j in enumerate(teachers) if j is not None]
    token_adv = torch.zeros_like(samples.logp)
    keep = torch.zeros(len(completions), dtype=torch.bool)
    mask = samples.mask
    full = divergence == "jsd"
    per_token = torch.zeros_like(samples.logp)  # what the logged reward averages, per token
    teacher_logp = None
    if full:  # every row gets a slot, so batches of one step can be joined
        V = policy.model.head.weight.shape[0]  # the logits' width
        teacher_logp = samples.logp.new_zeros((*samples.logp.shape, V))  # (B, T, V)
    if rows:
        prompts = [
            hint_prompt(policy.compact_prompts, problems[i].prompt, completions[teachers[i]])
            for i in rows
        ]
        taught = prompt_rows(policy.tokenizer, samples, rows, prompts)
        keep[rows] = True
        if full:
            teacher = next_token_logprobs(policy, taught, temperature=temperature)[0]
            student = next_token_logprobs(policy, rows_of(samples, rows), temperature=temperature)
            teacher_logp[rows] = teacher
            per_token[rows] = -generalized_jsd(student[0], teacher, alpha=alpha) * mask[rows]
        else:
            teacher = sequence_logp(policy, taught, temperature=temperature)[0]
            token_adv[rows] = (teacher - samples.logp[rows]) * mask[rows]
            per_token = token_adv
    per_row = per_token.sum(1) / mask.sum(1).clamp(min=1)
    taught_tokens = (mask * keep.float()[:, None]).sum().clamp(min=1)
    metrics = {"sdpo/taught_frac": keep.float().mean().item()}
    # the variant's divergence over the taught tokens, teacher against the sampling policy
    metrics["sdpo/jsd" if full else "sdpo/sampled_reverse_kl"] = 0.0 - float(
        per_token.sum() / taught_tokens
    )
    extras = {"token_adv": token_adv, "keep": keep}
    if full:
        extras["teacher_logp"] = teacher_logp
    return RewardOut(per_row.tolist(), metrics=metrics, extras=extras)


def terms(*, divergence="sampled_reverse_kl", alpha=0.5) -> tuple:
    """SDPO's own loss term, aggregated like the policy loss: with divergence "jsd", the
    generalised JSD of the student's full distribution from the teacher's (the per-token
    advantages are 0 then, so the policy loss carries no signal); none otherwise."""
    if divergence != "jsd":
        return ()
    return (Term(partial(distill_term, divergence=partial(generalized_jsd, alpha=alpha)), True),)
