"""RL primitives as pure tensor functions, registered by name, and the algorithm presets.

`algos/` never imports `models/` or `tasks/`.
"""

from priorlab.algos.advantages import ADVANTAGES, gae, group_stats, per_step_grpo
from priorlab.algos.filters import (
    experts,
    gfpo_advantage,
    keep_top_k,
    mask_truncated,
    overlong_penalty,
    varied_groups,
)
from priorlab.algos.losses import (
    AGGREGATIONS,
    CLIPPED_LOSSES,
    KL_ESTIMATORS,
    POLICY_LOSSES,
    approx_kl,
    clip_fractions,
    clipped_value_loss,
    entropy_from_logits,
    truncated_is_weight,
)
from priorlab.algos.parts import Parts, bind, own, per_step, reward_weighted, role_grpo
from priorlab.algos.presets import PRESETS, Algorithm, make_algorithm
from priorlab.algos.terms import Forward, Term, total

__all__ = [
    "per_step_grpo",
    "ADVANTAGES",
    "AGGREGATIONS",
    "CLIPPED_LOSSES",
    "KL_ESTIMATORS",
    "POLICY_LOSSES",
    "PRESETS",
    "Algorithm",
    "Parts",
    "Forward",
    "Term",
    "own",
    "per_step",
    "reward_weighted",
    "role_grpo",
    "total",
    "approx_kl",
    "clip_fractions",
    "clipped_value_loss",
    "entropy_from_logits",
    "experts",
    "gae",
    "gfpo_advantage",
    "group_stats",
    "keep_top_k",
    "make_algorithm",
    "mask_truncated",
    "overlong_penalty",
    "bind",
    "truncated_is_weight",
    "varied_groups",
]
