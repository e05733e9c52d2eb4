"""Per-token policy losses (B, T), their aggregation to a scalar, KL estimators, entropy,
and the full-distribution divergence a self-distillation loss minimises."""

from __future__ import annotations

import math

import torch

from priorlab.errors import Registry


def _per_token(adv: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A sequence advantage (B,) broadcast over its tokens; (B, T) passes through."""
    return adv[:, None].expand_as(like) if adv.dim() == 1 else adv


def clip(logp, old_logp, adv, *, eps_low=0.2, eps_high=0.2, dual_clip=None):
    """PPO clipped surrogate: -min(rho A, clip(rho, 1-eps_low, 1+eps_high) A), rho = e^(logp-old).

    eps_high > eps_low is DAPO's clip-higher (0.2 / 0.28, Yu et al. 2025). `dual_clip` = c
    caps the loss of tokens with A < 0 at -c A (Ye et al. 2020). Shapes (B, T); adv (B,) or (B, T).
    """
    adv = _per_token(adv, logp)
    ratio = torch.exp(logp - old_logp)
    loss = torch.maximum(-ratio * adv, -ratio.clamp(1 - eps_low, 1 + eps_high) * adv)
    if dual_clip is not None:
        loss = torch.where(adv < 0, torch.minimum(loss, -dual_clip * adv), loss)
    return loss


def gppo(logp, old_logp, adv, *, eps_low=0.2, eps_high=0.28, dual_clip=10.0):
    """GPPO: clip-higher PPO's value, but clipped tokens keep a bounded gradient.

    rho is clamped to [(1-eps_low) rho/sg(rho), (1+eps_high) rho/sg(rho)] (sg: stop-gradient),
    so a clipped token contributes -A (1 +- eps) grad log pi instead of 0; the dual clip
    caps A < 0 tokens at -c A rho/sg(rho) the same way. Shapes (B, T). Klear-Reasoner,
    Su et al. 2025 (arXiv 2508.07629).
    """
    adv = _per_token(adv, logp)
    ratio = torch.exp(logp - old_logp)
    unit = ratio / ratio.detach()  # value 1, gradient grad log pi
    bounded = torch.where(
        ratio.detach() < 1 - eps_low,
        (1 - eps_low) * unit,
        torch.where(ratio.detach() > 1 + eps_high, (1 + eps_high) * unit, ratio),
    )
    loss = torch.maximum(-ratio * adv, -bounded * adv)
    if dual_clip is not None:
        capped = -dual_clip * adv * unit
        loss = torch.where((adv < 0) & (loss.detach() > capped.detach()), capped, loss)
    return loss


def reinforce(logp, old_logp, adv):
    """-rho A with rho = exp(logp - old_logp): REINFORCE with an importance weight (no clip).

    On-policy (logp == old_logp) its gradient is -A grad log pi. Shapes (B, T).
    """
    return -torch.exp(logp - old_logp) * _per_token(adv, logp)


def nll(logp, old_logp=None, adv=None):
    """-log pi(token): cross-entropy on the given tokens (SFT, Expert Iteration, RCRL)."""
    return -logp


def cispo(logp, old_logp, adv, *, is_eps_low=1.0, is_eps_high=0.28):
    """CISPO: -sg(clip(rho, 1 - is_eps_low, 1 + is_eps_high)) A log pi, rho = e^(logp-old).

    Clips the importance-sampling weight, not the update: every token keeps its gradient
    -w A grad log pi with w <= 1 + is_eps_high (MiniMax-M1, arXiv 2506.13585, Eq. 4-5; the
    paper sets no lower bound, is_eps_low = 1 keeps w >= 0, and tunes is_eps_high).
    Shapes (B, T); adv (B,) or (B, T).
    """
    weight = torch.exp(logp - old_logp).detach().clamp(1 - is_eps_low, 1 + is_eps_high)
    return -weight * _per_token(adv, logp) * logp


POLICY_LOSSES = Registry(
    "policy loss",
    {
        "clip": clip,
        "gppo": gppo,
        "reinforce": reinforce,
        "nll": nll,
        "cispo": cispo,
    },
)
CLIPPED_LOSSES = ("clip", "gppo")  # the losses that take eps_low, eps_high and dual_clip


def token_mean(loss_mat, mask):
    """sum(L m) / sum(m) over the whole batch: every token weighs the same (DAPO, Lite PPO)."""
    return (loss_mat * mask).sum() / mask.sum().clamp(min=1)


def seq_mean_token_mean(loss_mat, mask):
    """mean_i (sum_t L m / sum_t m): every sequence weighs the same (original GRPO)."""
    per_seq = (loss_mat * mask).sum(1) / mask.sum(1).clamp(min=1)
    return per_seq.mean()


def seq_mean_token_sum(loss_mat, mask):
    """mean_i sum_t L m: longer sequences weigh more."""
    return (loss_mat * mask).sum(1).mean()


def seq_sum_norm(loss_mat, mask, *, norm_len: int | None = None):
    """sum(L m) / (B * T_max), T_max a constant, default the padded length (Dr. GRPO)."""
    B, T = loss_mat.shape
    return (loss_mat * mask).sum() / (B * (norm_len or T))


AGGREGATIONS = Registry(
    "aggregation",
    {
        "token_mean": token_mean,
        "seq_mean_token_mean": seq_mean_token_mean,
        "seq_mean_token_sum": seq_mean_token_sum,
        "seq_sum_norm": seq_sum_norm,
    },
)


def clipped_value_loss(values, old_values, returns, mask, clip_range: float = 0.2):
    """PPO's critic loss 0.5 max((V - R)^2, (clip(V, V_old +- c) - R)^2), token mean."""
    clipped = old_values + (values - old_values).clamp(-clip_range, clip_range)
    loss = 0.5 * torch.maximum((values - returns) ** 2, (clipped - returns) ** 2)
    return token_mean(loss, mask)


def kl_k1(logp, ref_logp):
    """k1 = d, d = logp - ref_logp: unbiased, can be negative. Schulman 2020."""
    return logp - ref_logp


def kl_k2(logp, ref_logp):
    """k2 = d^2 / 2: low variance, biased."""
    return (logp - ref_logp) ** 2 / 2


def kl_k3(logp, ref_logp):
    """k3 = exp(-d) + d - 1 >= 0: unbiased and low variance (GRPO's KL)."""
    d = logp - ref_logp
    return torch.exp(-d) + d - 1


KL_ESTIMATORS = Registry("KL estimator", {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3})


def entropy_from_logits(logits):
    """H = -sum_v p_v log p_v over the last dim: (..., V) -> (...)."""
    logprobs = torch.log_softmax(logits.float(), -1)
    return -(logprobs.exp() * logprobs).sum(-1)


def generalized_jsd(logprobs, teacher_logprobs, *, alpha=0.5):
    """Generalised Jensen-Shannon divergence D_alpha(S || sg(T)) per position, over the vocab.

    D = alpha KL(T || M) + (1 - alpha) KL(S || M), M = (1 - alpha) S + alpha T, with the
    student S = exp(logprobs) and the teacher T under stop-gradient; alpha 0.5 is the JSD,
    and the endpoints are the KLs themselves (the mixture form vanishes there): alpha = 0
    the forward KL(T || S), alpha = 1 the reverse KL(S || T). The SDPO authors' convention
    (Hubotter et al. 2026, arXiv 2601.20802; lasgroup/SDPO compute_self_distillation_loss),
    TRL GKD's generalized_jsd_loss with beta = alpha. Shapes (..., V) -> (...).
    """
    teacher = teacher_logprobs.detach()
    if alpha == 0:
        return (teacher.exp() * (teacher - logprobs)).sum(-1)
    if alpha == 1:
        return (logprobs.exp() * (logprobs - teacher)).sum(-1)
    mix = torch.logaddexp(logprobs + math.log(1 - alpha), teacher + math.log(alpha))
    kl_teacher = (teacher.exp() * (teacher - mix)).sum(-1)
    kl_student = (logprobs.exp() * (logprobs - mix)).sum(-1)
    return alpha * kl_teacher + (1 - alpha) * kl_student


def truncated_is_weight(old_logp, sampler_logp, *, cap: float = 2.0):
    """w_t = min(pi_old(y_t) / pi_sampler(y_t), cap), without gradient; (B, T).

    Corrects a sampler whose log-probs differ from the trainer's (vLLM's kernels): each
    token's policy loss is weighted by w_t. Yao et al. 2025, "Your efficient RL framework
    secretly brings you off-policy RL training" (truncated IS; verl's rollout_is).
    """
    return torch.exp(old_logp - sampler_logp).clamp(max=cap).detach()


def clip_fractions(logp, old_logp, adv, mask, *, eps_low=0.2, eps_high=0.2):
    """Shares of real tokens where the clip binds and cuts the gradient: (low, high).

    high: A > 0 and rho > 1 + eps_high; low: A < 0 and rho < 1 - eps_low, rho = e^(logp-old).
    Where rho lies outside the range on the other side, min() keeps the unclipped term, so
    nothing is clipped there (verl's pg_clipfrac, split by side). Shapes (B, T); adv (B,) or (B, T).
    """
    adv, ratio = _per_token(adv, logp), torch.exp(logp - old_logp)
    high = ((adv > 0) & (ratio > 1 + eps_high)).float()
    low = ((adv < 0) & (ratio < 1 - eps_low)).float()
    return token_mean(low, mask), token_mean(high, mask)


def approx_kl(logp, old_logp, mask):
    """k3 estimate of KL(pi_old || pi) on pi_old's samples, over real tokens: (rho - 1) -
    log rho, rho = pi / pi_old (cleanrl's approx_kl; Schulman 2020, "Approximating KL
    divergence"). kl_k3 with the arguments swapped: k3(a, b) estimates KL(pi_a || pi_b) on
    pi_a's samples."""
    return token_mean(kl_k3(old_logp, logp), mask)
