"""Delta-Belief: credit per reasoning step from the change in the model's belief.

Delta-Belief RL (arXiv 2602.12342) rewards each turn of a multi-turn agent by how much it
raised the agent's own log-probability of the target. Single-turn adaptation (ours, as
RESEARCH.md asks): a completion's reasoning is cut into steps (at newlines when it has
any, else at ','), and the belief after step k is

    b_k = pi(y* | q, z_1..k)        (b_0: the question alone)

the probability of the gold answer y* appended after the first k steps (the probe of
VeriFree's reference likelihood). Step k earns r_k = log b_k - log b_{k-1}; the last step
also earns the outcome (the verifier's 0/1). The source returns these per-step rewards; the
advantage stage (algos.parts.per_step) GRPO-normalises them per step index within the
group, and each token gets its step's return to go, sum_{k' >= k} A^_{k'} (the return to
go is our choice, unconfirmed: it lets the outcome reach every step). The tokens after the
reasoning (the answer, EOS) belong to the last step.
"""

from __future__ import annotations

from bisect import bisect_right

import torch

from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.rewards.intrinsic import answer_logp, split_answer


def reasoning_steps(reasoning: str) -> list[str]:
    """The reasoning in steps, each keeping its delimiter; at least one (maybe empty).

    "3+4=7,7*2=14" -> ["3+4=7,", "7*2=14"]; "a\\nb" -> ["a\\n", "b"]."""
    sep = "\n" if "\n" in reasoning else ","
    pieces = [p + sep for p in reasoning.split(sep)]
    pieces[-1] = pieces[-1][: -len(sep)]
    if len(pieces) > 1 and not pieces[-1]:
        pieces.pop()
    return pieces


def token_steps(tok, ids: list[int], step_ends: list[int]) -> list[int]:
    """The step each response token starts in (0-based), from the characters before it;
    tokens past the last step's end belong to the last step."""
    out, pos = [], 0
    for t in ids:
        out.append(min(bisect_right(step_ends, pos), len(step_ends) - 1))
        pos += len(tok.decode([t]))
    return out


def delta_belief(given: RewardIn) -> RewardOut:
    """Delta-Belief: per-step change in the belief in the gold answer, plus the outcome.

    Returns the step rewards log b_k - log b_{k-1} (+ outcome on the last step) and the
    step of each response token, which the bound `per_step` estimator turns into per-token
    advantages; the logged reward is their sum, log b_S - log b_0 + outcome."""
    problems, verdicts, samples = given.problems, given.verdicts, given.samples
    policy, tok = given.policy, given.policy.tokenizer
    steps = [reasoning_steps(split_answer(c)[0]) for c in given.completions]
    rows, prefixes = [], []
    for i, pieces in enumerate(steps):
        for k in range(len(pieces) + 1):  # b_0 .. b_S
            rows.append(problems[i])
            prefixes.append("".join(pieces[:k]).rstrip("\n,"))
    flat = iter(answer_logp(policy, rows, prefixes))
    S = max(len(p) for p in steps)
    step_rewards, present = torch.zeros(len(steps), S), torch.zeros(len(steps), S, dtype=torch.bool)
    for i, pieces in enumerate(steps):
        beliefs = [next(flat) for _ in range(len(pieces) + 1)]
        for k in range(len(pieces)):
            step_rewards[i, k] = beliefs[k + 1] - beliefs[k]
        step_rewards[i, len(pieces) - 1] += float(verdicts[i].correct)
        present[i, : len(pieces)] = True
    token_step = torch.full(samples.logp.shape, -1, dtype=torch.long)  # (B, T), -1: no token
    for i, pieces in enumerate(steps):
        n = int(samples.lengths[i])
        ends = torch.tensor([len(p) for p in pieces]).cumsum(0).tolist()
        token_step[i, :n] = torch.tensor(token_steps(tok, samples.response[i, :n].tolist(), ends))
    totals = step_rewards.sum(1)
    return RewardOut(
        totals.tolist(),
        extras={"step_rewards": step_rewards, "step_mask": present, "token_step": token_step},
        metrics={"delta_belief/steps": float(present.sum(1).float().mean())},
    )
