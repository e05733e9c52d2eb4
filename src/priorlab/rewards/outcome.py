"""Rewards read off the completion and its verdict: verifier, format, dense_steps, random."""

from __future__ import annotations

from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.tasks.base import results_before_answer


def verifier(given: RewardIn) -> RewardOut:
    """Sparse 0/1 outcome reward: 1 when the task's verifier accepts the answer."""
    return RewardOut([float(v.correct) for v in given.verdicts])


def format_reward(given: RewardIn) -> RewardOut:
    """1 when a final answer could be extracted at all, whatever its value."""
    return RewardOut([float(v.parsed) for v in given.verdicts])


def random_reward(given: RewardIn, *, p=0.5) -> RewardOut:
    """Bernoulli(p), whatever the completion: the spurious-reward control (Shao et al. 2025)."""
    return RewardOut([float(given.rng.random() < p) for _ in given.verdicts])


def dense_steps(given: RewardIn) -> RewardOut:
    """Credit for each intermediate result that matches the gold solution's, plus the outcome:
    r = (#{i : step_i == gold_step_i} + correct) / (#gold_steps + 1), in [0, 1].

    The heuristic dense reward of Havrilla et al. 2024 (arXiv 2403.04642), summed over the
    steps into one scalar per completion (step i is compared at the same position i).
    """
    steps = given.task.steps if given.task is not None else results_before_answer
    out = []
    for p, text, v in zip(given.problems, given.completions, given.verdicts):
        gold = steps(p.solution)
        mine = steps(text)
        hits = sum(a == b for a, b in zip(mine, gold))
        out.append((hits + float(v.correct)) / (len(gold) + 1))
    return RewardOut(out)
