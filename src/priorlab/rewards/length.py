"""The cosine length-scaled reward of Yeo et al. 2025 (arXiv 2502.03373, Sec. 4.2).

r = CosFn(L) with the correct pair (r0, rL) = (rc_0, rc_L) or the wrong pair (rw_0, rw_L),
CosFn(L) = rL + 1/2 (r0 - rL) (1 + cos(pi L / L_max)), and r_exceed for a completion that
hit L_max before EOS. L: the completion's generated tokens (EOS included); L_max: the run's
max_new_tokens. Defaults: the paper's (2, 1) for correct, (-10, 0) for wrong, -10 for
exceeding: shorter correct answers earn more, and a wrong answer is punished less the
longer it thinks. The authors' code counts a completion as exceeding 16 tokens before
L_max (a margin for re-tokenisation); here the sampler's truncation flag says it exactly.
Their repetition penalty (a separate variant) is not included.
"""

from __future__ import annotations

import math

from priorlab.rewards.base import RewardIn, RewardOut


def cosine_length(
    given: RewardIn,
    *,
    rc_0: float = 2.0,
    rc_L: float = 1.0,
    rw_0: float = -10.0,
    rw_L: float = 0.0,
    r_exceed: float = -10.0,
) -> RewardOut:
    """Yeo et al.'s cosine length-scaled outcome reward (r_exceed when truncated).

    r0 at length 0 to rL at max_new_tokens along a half cosine, with the correct (rc_*) or
    the wrong (rw_*) pair."""
    samples, L_max = given.samples, given.max_new_tokens
    out = []
    for verdict, n, cut in zip(given.verdicts, samples.lengths.tolist(), samples.truncated):
        r0, rL = (rc_0, rc_L) if verdict.correct else (rw_0, rw_L)
        cos_fn = rL + 0.5 * (r0 - rL) * (1 + math.cos(math.pi * n / L_max))
        out.append(r_exceed if bool(cut) else cos_fn)
    return RewardOut(out)
