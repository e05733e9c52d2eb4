"""Reward sources: plain functions returning one float per completion.

Signature: `reward(problems, completions, verdicts, *, rng) -> list[float]`. The true
verifier accuracy is logged beside whichever reward drives training.
"""

from __future__ import annotations

import random

from priorlab.errors import lookup


def verifier(problems, completions, verdicts, *, rng: random.Random) -> list[float]:
    """Sparse 0/1 outcome reward: 1 when the task's verifier accepts the answer."""
    return [float(v.correct) for v in verdicts]


def format_reward(problems, completions, verdicts, *, rng: random.Random) -> list[float]:
    """1 when a final answer could be extracted at all, whatever its value."""
    return [float(v.parsed) for v in verdicts]


def random_reward(problems, completions, verdicts, *, rng: random.Random, p: float = 0.5):
    """Bernoulli(p), whatever the completion: the spurious-reward control (Shao et al. 2025)."""
    return [float(rng.random() < p) for _ in verdicts]


REWARDS = {"verifier": verifier, "format": format_reward, "random": random_reward}


def get_reward(name: str):
    """The reward function named `name`, or ValueError listing the valid names."""
    return lookup(REWARDS, name, "reward")
