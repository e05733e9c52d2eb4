"""VeriFree: the policy's probability of the reference answer after its own reasoning.

Zhou et al. 2025, "Reinforcing General Reasoning without Verifiers" (arXiv 2505.21493):
the policy samples a reasoning z, the reference answer y* is appended, and

    J(theta) = E_{z ~ pi(. | x)} [ R(z) ],   R(z) = pi(y* | x, z)

whose gradient has two terms, the policy gradient of the reasoning and the reference
answer's likelihood weighted by that same probability:

    grad J = E_z [ R(z) grad log pi(z | x) + R(z) grad log pi(y* | x, z) ]

In the paper's estimator (and the authors' code, sail-sg/VeriFree `verifree.py`, run with
critic_type rloo, reward_source p, sft_coef_source reward) the first term takes an RLOO
baseline, A_i = R_i - mean_{j != i} R_j, and the second keeps the weight sg(R_i) with no
baseline. `reward_params.objective`:

- "reward_only" (the default, as before): R is the reward; the algorithm's estimator and
  loss train every sampled token on it, the policy's own answer included.
- "full": both terms. The first is the algorithm's estimator on R (use algo rloo for the
  paper's baseline) on the reasoning tokens only (`keep` masks the policy's own answer and
  EOS: the paper never samples them); the second comes as further `rows` (prompt, z + y* +
  EOS) whose loss covers y* and EOS with per-token advantage sg(R), carried by the same
  per-token loss and aggregation (the clipped loss's gradient at ratio 1 is
  -R grad log pi). Needs an online algorithm without a critic.
"""

from __future__ import annotations

import math

import torch

from priorlab.algos import reward_weighted
from priorlab.batch import Batch, Rows, Samples
from priorlab.encoding import encode_pairs
from priorlab.errors import ConfigError
from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.rewards.intrinsic import answer_logp, split_answer
from priorlab.rollout import sequence_logp

OBJECTIVES = ("reward_only", "full")


def check_params(*, objective: str = "reward_only") -> None:
    """ConfigError naming reward_params.objective unless it is one of OBJECTIVES."""
    if objective not in OBJECTIVES:
        raise ConfigError(
            "reward_params.objective",
            f"unknown objective {objective!r}; accepted: {', '.join(OBJECTIVES)}",
        )


def trains_extra_rows(*, objective: str = "reward_only") -> bool:
    """Whether the source adds rows of its own to the update (then it needs an online
    algorithm without a critic)."""
    return objective == "full"


@torch.no_grad()
def reference_likelihood(given: RewardIn, *, objective="reward_only") -> RewardOut:
    """VeriFree: the policy's probability of the reference answer after its own reasoning.

    r = pi(y* | q, z) = exp(sum_t log pi(y*_t | q, z, y*_<t)) over the reference answer's
    tokens and EOS, where z is the completion cut before its answer marker and y* the gold
    solution's answer part. objective "full" adds the reward-weighted likelihood of y*.
    """
    policy, problems = given.policy, given.problems
    reasonings = [split_answer(c)[0] for c in given.completions]
    if objective == "reward_only":
        return RewardOut([math.exp(x) for x in answer_logp(policy, problems, reasonings)])
    return full_objective(
        policy, problems, reasonings, given.samples, given.group_ids, given.temperature
    )


def full_objective(policy, problems, reasonings, samples, group_ids, temperature) -> RewardOut:
    """R per row, the reasoning tokens as `keep`, and the (prompt, z + y*) rows whose
    answer tokens learn with advantage R."""
    tok = policy.tokenizer
    refs = [split_answer(p.solution)[1] for p in problems]
    rows = reference_rows(policy, problems, reasonings, refs)
    answer = answer_mask(tok, rows, refs)  # (B, T'): y* and EOS
    logp = chunked_logp(policy, rows)  # (B, T') at temperature 1: the reward's
    log_r = (logp * answer).sum(1)
    r = log_r.exp()  # (B,)
    rows.logp = logp if temperature == 1.0 else chunked_logp(policy, rows, temperature)
    references = Batch(
        rows,
        list(problems),
        group_ids.clone(),
        [z + ref for z, ref in zip(reasonings, refs)],
        rewards=r,
        correct=torch.zeros(len(r), dtype=torch.bool),
        parsed=torch.zeros(len(r), dtype=torch.bool),
        loss_mask=answer,
    )
    keep = reasoning_mask(tok, samples, [len(z) for z in reasonings])
    return RewardOut(
        r.tolist(),
        extras={"keep": keep},
        rows=[Rows(references, reward_weighted, paired=True)],
        metrics={
            "verifree/full": 1.0,
            "verifree/answer_logp": log_r.mean().item(),
            "verifree/reasoning_frac": float(keep.sum() / samples.mask.sum().clamp(min=1)),
        },
    )


def reference_rows(policy, problems, reasonings: list[str], refs: list[str]) -> Samples:
    """Teacher-forcing rows (prompt, z + y* + EOS) on the policy's device."""
    rows = encode_pairs(
        policy.tokenizer,
        [p.prompt for p in problems],
        [z + ref for z, ref in zip(reasonings, refs)],
        max_len=policy.model.cfg.max_len,
    )
    device = policy.model.head.weight.device
    return Samples(*(getattr(rows, f).to(device) for f in Samples.__dataclass_fields__))


def answer_mask(tok, rows: Samples, refs: list[str]) -> torch.Tensor:
    """(B, T) 1 on each row's last len(y*) + 1 response tokens: the answer and EOS (fewer
    when the row was cut to fit the context, as `answer_logp` counts them)."""
    mask = torch.zeros_like(rows.mask)
    for i, ref in enumerate(refs):
        n_ref = len(tok.encode(ref, bos=False)) + 1
        end = int(rows.lengths[i])
        mask[i, max(0, end - n_ref) : end] = 1.0
    return mask


def reasoning_mask(tok, samples: Samples, ends: list[int]) -> torch.Tensor:
    """(B, T) bool, the sampled tokens that start before character ends[i] of their row's
    text: the reasoning z, without the policy's own answer and EOS."""
    keep = torch.zeros(samples.mask.shape, dtype=torch.bool)
    for i, end in enumerate(ends):
        pos = 0
        for t, token in enumerate(samples.response[i, : int(samples.lengths[i])].tolist()):
            if pos >= end:
                break
            keep[i, t] = True
            pos += len(tok.decode([token]))
    return keep.to(samples.mask.device)


def chunked_logp(policy, rows: Samples, temperature: float = 1.0, chunk: int = 16):
    """Teacher-forced log-probs (B, T) of `rows`, `chunk` rows per forward pass."""
    out = []
    for lo in range(0, len(rows.lengths), chunk):
        part = Samples(*(getattr(rows, f)[lo : lo + chunk] for f in Samples.__dataclass_fields__))
        out.append(sequence_logp(policy, part, temperature=temperature)[0])
    return torch.cat(out)
