"""The contract of a reward source: what it is given (RewardIn), what it returns (RewardOut).

A source is `reward(given: RewardIn, *, <its parameters>) -> RewardOut` (or a class whose
`__init__` takes the parameters and whose instances are called so). Its parameters are
its keyword-only arguments with defaults, set through `reward_params`; everything the
loop knows about the batch comes in `RewardIn`, so no source names what it ignores.
"""

from __future__ import annotations

import random
from collections.abc import Callable
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
    """Rewards plus what the update should use instead of, or beside, them.

    rewards: one float per completion (what the algorithm's estimator reads).
    token_adv (B, T): advantages that replace the algorithm's estimator (Delta-Belief's
    per-step credit, SDPO's distillation signal).
    keep (B,) bool rows, or (B, T) tokens, the update may learn from (SDPO: rows with a
    teacher; VeriFree's full objective: the reasoning tokens).
    roles: a Batch of the policy's samples in another role (SERL's judge, RARO's critic),
    with their rewards, trained with GRPO in the same update.
    metrics: what the source reports of itself, logged beside the true accuracy.
    teacher_logp (B, T, V): a teacher's full next-token log-probs at each response position
    (SDPO's jsd), to which the update adds `divergence(student_logprobs, teacher_logp)`
    -> (B, T), aggregated over the loss mask.
    extra: a Batch of further rows, one per completion and in the same order, with their
    own per-token advantages (token_adv) and loss mask, trained in the same update
    (VeriFree's reference-answer term).
    """

    rewards: list[float]
    token_adv: Tensor | None = None
    keep: Tensor | None = None
    roles: object = None
    metrics: dict = field(default_factory=dict)
    teacher_logp: Tensor | None = None
    divergence: Callable | None = None
    extra: object = None
