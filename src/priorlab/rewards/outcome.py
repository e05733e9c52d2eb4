"""Rewards read off the completion and its verdict: verifier, format, dense_steps, random."""

from __future__ import annotations

import random

from priorlab.tasks.base import results_before_answer


def verifier(problems, completions, verdicts, *, rng: random.Random, task=None, **_) -> list[float]:
    """Sparse 0/1 outcome reward: 1 when the task's verifier accepts the answer."""
    return [float(v.correct) for v in verdicts]


def format_reward(
    problems, completions, verdicts, *, rng: random.Random, task=None, **_
) -> list[float]:
    """1 when a final answer could be extracted at all, whatever its value."""
    return [float(v.parsed) for v in verdicts]


def random_reward(problems, completions, verdicts, *, rng: random.Random, p=0.5, **_):
    """Bernoulli(p), whatever the completion: the spurious-reward control (Shao et al. 2025)."""
    return [float(rng.random() < p) for _ in verdicts]


def dense_steps(
    problems, completions, verdicts, *, rng: random.Random, task=None, **_
) -> list[float]:
    """Credit for each intermediate result that matches the gold solution's, plus the outcome:
    r = (#{i : step_i == gold_step_i} + correct) / (#gold_steps + 1), in [0, 1].

    The heuristic dense reward of Havrilla et al. 2024 (arXiv 2403.04642), summed over the
    steps into one scalar per completion (step i is compared at the same position i).
    """
    steps = task.steps if task is not None else results_before_answer
    out = []
    for p, text, v in zip(problems, completions, verdicts):
        gold = steps(p.solution)
        mine = steps(text)
        hits = sum(a == b for a, b in zip(mine, gold))
        out.append((hits + float(v.correct)) / (len(gold) + 1))
    return out
