"""The contract of a reward source: what it is given (RewardIn), what it returns (RewardOut).

A source is `reward(given: RewardIn, *, <its parameters>) -> RewardOut` (or a class whose
`__init__` takes the parameters and whose instances are called so). Its parameters are
its keyword-only arguments with defaults, set through `reward_params`; everything the
loop knows about the batch comes in `RewardIn`, so no source names what it ignores.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from torch import Tensor


@dataclass(frozen=True)
class RewardIn:
    """One batch of completions to score, and what a source may read to score it.

    problems, completions, verdicts: one per completion (the task's verdict on each: its
    correctness, whether an answer was extracted, the answer); group_ids (B,): the prompt
    each completion answers; samples: the sampled tokens (Samples); policy: the current
    policy (Policy), for sources that probe or copy it; task: the Task; rng: the run's
    seeded random.Random; temperature: the sampling temperature; max_new_tokens: the
    completion budget it was sampled with.
    """

    problems: list
    completions: list[str]
    verdicts: list
    group_ids: Tensor | None = None
    samples: object = None
    policy: object = None
    task: object = None
    rng: random.Random | None = None
    temperature: float = 1.0
    max_new_tokens: int | None = None


@dataclass
class RewardOut:
    """A source's rewards, what it reports of itself, and what its objective adds.

    rewards: one float per completion (what the algorithm's estimator reads; for a dense
    source, their sum over the steps, which is what is logged).
    metrics: what the source reports of itself, logged beside the true accuracy.
    extras: name -> (B, ...) per-completion tensors that the source's bound estimator or
    loss terms read (its `Source` declares which): Delta-Belief's per-step rewards
    ("step_rewards", "step_mask" (B, S), "token_step" (B, T)); SDPO's per-token signal
    ("token_adv") or its teacher's full log-probs ("teacher_logp", (B, T, V)); "keep", the
    rows (B,) or tokens (B, T) the policy loss may learn from (SDPO: rows with a teacher;
    VeriFree's full objective: the reasoning tokens).
    rows: [Rows] further rows trained in the same update, which get their advantages in
    the advantage stage (SERL's judge and RARO's critic samples: GRPO on their rewards;
    VeriFree's reference answers: weighted by their likelihood).
    """

    rewards: list[float]
    metrics: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
