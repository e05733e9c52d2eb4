"""Advantage estimators: rewards (B,) and group ids (B,) -> advantages (B,).

A group is the G samples of one prompt. Every std is the unbiased one (ddof = 1),
as torch.std computes it; a one-sample group has std 0 here rather than NaN. Every
estimator takes `tokens` (B,), the response tokens per row: the REINFORCE++ ones whiten
over all response tokens of the batch, so a row weighs as many tokens as it has (the
others ignore it; None weighs every row 1).
"""

from __future__ import annotations

import torch

from priorlab.errors import Registry

EPS = 1e-6


def group_stats(rewards: torch.Tensor, group_ids: torch.Tensor):
    """Per-row group mean (B,), unbiased group std (B,) and group size (B,)."""
    _, inv, counts = torch.unique(group_ids, return_inverse=True, return_counts=True)
    r = rewards.float()
    sums = torch.zeros(len(counts), dtype=r.dtype).index_add_(0, inv, r)
    mean = (sums / counts)[inv]
    sq = torch.zeros(len(counts), dtype=r.dtype).index_add_(0, inv, (r - mean) ** 2)
    var = sq / (counts - 1).clamp(min=1)
    return mean, var.sqrt()[inv], counts[inv]


def _batch_std(x: torch.Tensor) -> torch.Tensor:
    return x.std() if x.numel() > 1 else torch.zeros((), dtype=x.dtype)


def whiten(x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """(x - mean_w) / (std_w + 1e-6): weighted mean and unbiased std, as if row i's value
    were repeated weights_i times (token-level whitening, OpenRLHF / verl masked_whiten)."""
    x = x.float()
    w = torch.ones_like(x) if weights is None else weights.float()
    n = w.sum()
    mean = (w * x).sum() / n
    var = (w * (x - mean) ** 2).sum() / (n - 1).clamp(min=1)
    return (x - mean) / (var.sqrt() + EPS)


def grpo(rewards, group_ids, *, tokens=None):
    """A_i = (r_i - mean_g) / (std_g + 1e-6). Shao et al. 2024 (DeepSeekMath)."""
    mean, std, _ = group_stats(rewards, group_ids)
    return (rewards - mean) / (std + EPS)


def dr_grpo(rewards, group_ids, *, tokens=None):
    """A_i = r_i - mean_g: no std division. Liu et al. 2025 (Dr. GRPO)."""
    mean, _, _ = group_stats(rewards, group_ids)
    return rewards - mean


def rloo(rewards, group_ids, *, tokens=None):
    """A_i = r_i - mean_{j != i in g} r_j: leave-one-out baseline. Ahmadian et al. 2024."""
    mean, _, n = group_stats(rewards, group_ids)
    loo_mean = (mean * n - rewards) / (n - 1).clamp(min=1)
    return torch.where(n > 1, rewards - loo_mean, torch.zeros_like(mean))


def lite_ppo(rewards, group_ids, *, tokens=None):
    """A_i = (r_i - mean_g) / (batch std + 1e-6). Liu et al. 2025, Tricks or Traps."""
    mean, _, _ = group_stats(rewards, group_ids)
    return (rewards - mean) / (_batch_std(rewards.float()) + EPS)


def reinforce_pp(rewards, group_ids, *, tokens=None):
    """r_i broadcast over its tokens, whitened over all response tokens of the batch:
    A_i = (r_i - mu_tok) / (sigma_tok + 1e-6). Hu 2025 (REINFORCE++, arXiv 2501.03262)."""
    return whiten(rewards, tokens)


def reinforce_pp_baseline(rewards, group_ids, *, tokens=None):
    """a_i = r_i - mean_g, broadcast over its tokens, then whitened over all response tokens
    of the batch. REINFORCE++-baseline, the paper's variant for reasoning (Hu 2025)."""
    mean, _, _ = group_stats(rewards, group_ids)
    return whiten(rewards - mean, tokens)


def none(rewards, group_ids, *, tokens=None):
    """A_i = r_i: the raw reward, no baseline."""
    return rewards.float().clone()


ADVANTAGES = Registry(
    "advantage",
    {
        "grpo": grpo,
        "dr_grpo": dr_grpo,
        "rloo": rloo,
        "lite_ppo": lite_ppo,
        "reinforce_pp": reinforce_pp,
        "reinforce_pp_baseline": reinforce_pp_baseline,
        "none": none,
    },
)


def per_step_grpo(step_rewards, present, group_ids):
    """Per-step-index group normalisation, then returns to go: (B, S) -> (B, S).

    A^_{i,k} = (r_{i,k} - mean_k) / (std_k + 1e-6), mean and std over the rows of i's
    group that reach step k (`present`, (B, S) bool); A_{i,k} = sum_{k' >= k} A^_{i,k'}.
    Used by Delta-Belief, whose rewards come per reasoning step.
    """
    norm = torch.zeros_like(step_rewards, dtype=torch.float32)
    for k in range(step_rewards.shape[1]):
        rows = present[:, k]
        if rows.any():
            norm[rows, k] = grpo(step_rewards[rows, k].float(), group_ids[rows])
    return norm.flip(1).cumsum(1).flip(1) * present


def gae(rewards, values, mask, *, gamma: float = 1.0, lam: float = 0.95):
    """Generalised advantage estimation over response tokens. Schulman et al. 2016.

    delta_t = r_t + gamma V_{t+1} - V_t;  A_t = sum_l (gamma lam)^l delta_{t+l}.
    rewards, values, mask: (B, T); V after the last real token is 0.
    Returns advantages (B, T) and returns = A + V (B, T), both zero on padding.
    """
    B, T = rewards.shape
    values = values * mask
    adv = torch.zeros_like(rewards)
    last = torch.zeros(B, dtype=rewards.dtype)
    for t in reversed(range(T)):
        next_v = values[:, t + 1] if t + 1 < T else torch.zeros(B, dtype=rewards.dtype)
        delta = rewards[:, t] + gamma * next_v - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        adv[:, t] = last
    return adv, (adv + values) * mask
