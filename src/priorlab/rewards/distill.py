"""SDPO: self-distillation from the same model shown a successful sibling.

Self-Distillation Policy Optimization (arXiv 2601.20802) has no scalar advantage: the
teacher is the policy itself re-prompted with feedback, here a successful sibling sample
of the same group (`hint` role), and the student is pulled towards it on the tokens it
sampled. We use the cheapest variant RESEARCH.md names, reverse KL on the sampled token:
the gradient of KL(pi || sg(pi_teacher)) on pi's own samples is that of a policy
gradient with per-token advantage

    A_t = log pi_teacher(y_t | hint, q, y_<t) - log pi_old(y_t | q, y_<t)

so the algorithm's clipped loss and token aggregation carry it. (The JSD, alpha 0.5,
needs the full teacher distribution per token and is not implemented.) A sample with no
successful sibling other than itself has no teacher and is masked out (`keep`).
"""

from __future__ import annotations

import torch

from priorlab.rewards.shaped import RewardOut
from priorlab.roles import hint_prompt, prompt_rows
from priorlab.rollout import sequence_logp


def pick_teachers(correct: list[bool], group_ids: list[int], rng) -> list[int | None]:
    """For each row, a random correct row of its group other than itself, or None."""
    out = []
    for i, g in enumerate(group_ids):
        pool = [j for j, h in enumerate(group_ids) if h == g and j != i and correct[j]]
        out.append(rng.choice(pool) if pool else None)
    return out


@torch.no_grad()
def sdpo(
    problems, completions, verdicts, *, policy, samples, group_ids, rng, temperature=1.0, **_
) -> RewardOut:
    """SDPO: self-distillation towards the policy shown a successful sibling.

    Per-token advantages log pi_teacher - log pi_old on rows that have a teacher; the
    logged reward is their mean per row (minus a one-sample reverse-KL estimate)."""
    teachers = pick_teachers([v.correct for v in verdicts], group_ids.tolist(), rng)
    rows = [i for i, j in enumerate(teachers) if j is not None]
    token_adv = torch.zeros_like(samples.logp)
    keep = torch.zeros(len(completions), dtype=torch.bool)
    if rows:
        prompts = [
            hint_prompt(policy.backend, problems[i].prompt, completions[teachers[i]]) for i in rows
        ]
        taught = prompt_rows(policy.tokenizer, samples, rows, prompts)
        teacher_logp = sequence_logp(policy, taught, temperature=temperature)[0]
        token_adv[rows] = (teacher_logp - samples.logp[rows]) * samples.mask[rows]
        keep[rows] = True
    per_row = token_adv.sum(1) / samples.mask.sum(1).clamp(min=1)
    return RewardOut(
        per_row.tolist(),
        token_adv=token_adv,
        keep=keep,
        metrics={"sdpo/taught_frac": keep.float().mean().item()},
    )
