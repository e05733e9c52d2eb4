"""What a reward source returns when one float per completion is not all it has."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class RewardOut:
    """Rewards plus what the update should use instead of, or beside, them.

    token_adv (B, T): advantages that replace the algorithm's estimator (Delta-Belief's
    per-step credit, SDPO's distillation signal).
    keep (B,) bool: rows the update may learn from (SDPO: rows with a teacher).
    roles: a Batch of the policy's samples in another role (SERL's judge, RARO's critic),
    with their rewards, trained with GRPO in the same update.
    metrics: what the source reports of itself, logged beside the true accuracy.
    """

    rewards: list[float]
    token_adv: Tensor | None = None
    keep: Tensor | None = None
    roles: object = None
    metrics: dict = field(default_factory=dict)
