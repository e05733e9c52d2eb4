"""What a reward source returns when one float per completion is not all it has."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class RewardOut:
    """Rewards plus what the update should use instead of, or beside, them.

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
