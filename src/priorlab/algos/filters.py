"""Filters and shaping applied between reward and advantage."""

from __future__ import annotations

import torch

from priorlab.algos.advantages import group_stats


def varied_groups(signal: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
    """(B,) bool: rows whose group's `signal` is not all equal (DAPO dynamic sampling).

    With the verifier as reward the signal is its raw result (all correct / all wrong groups
    are dropped); with any other source it is that source's reward, before overlong shaping,
    so a label-free reward never consults the verifier. Yu et al. 2025 (arXiv 2503.14476).
    """
    _, std, _ = group_stats(signal.float(), group_ids)
    return std > 0


def experts(rewards: torch.Tensor, *, threshold: float = 1.0) -> torch.Tensor:
    """(B,) bool: samples that count as expert data, reward >= threshold.

    Expert Iteration keeps them, RCRL labels them with the best return token. At the default
    1.0: with the verifier the correct ones; with dense_steps, correct with every step
    matching the gold solution (a wrong answer with one matching step is not expert data).
    Havrilla et al. 2024 keep the correct samples; a non-binary reward needs a stated threshold.
    """
    return rewards >= threshold


def overlong_penalty(lengths: torch.Tensor, *, max_len: int, cache_len: int) -> torch.Tensor:
    """DAPO soft overlong punishment (B,): 0 up to max_len - cache_len, then
    ((max_len - cache_len) - length) / cache_len inside the cache window, -1 beyond max_len."""
    free = max_len - cache_len
    pen = (free - lengths.float()) / cache_len
    pen = torch.where(lengths <= free, torch.zeros_like(pen), pen)
    return torch.where(lengths > max_len, torch.full_like(pen, -1.0), pen)


def mask_truncated(mask: torch.Tensor, truncated: torch.Tensor) -> torch.Tensor:
    """Response mask (B, T) with every token of a truncated completion removed from the loss."""
    return mask * (~truncated).float()[:, None]


def keep_top_k(metric: torch.Tensor, group_ids: torch.Tensor, k: int) -> torch.Tensor:
    """(B,) bool: the k rows of each group with the LOWEST metric (ties: the earlier row).

    GFPO's filter (Shrivastava et al. 2025, arXiv 2508.09726): metric = length keeps the
    shortest, metric = -reward/length keeps the best reward per token.
    """
    keep = torch.zeros_like(group_ids, dtype=torch.bool)
    for g in group_ids.unique():
        rows = (group_ids == g).nonzero().squeeze(1)
        order = torch.sort(metric[rows], stable=True).indices[:k]
        keep[rows[order]] = True
    return keep


def gfpo_advantage(rewards: torch.Tensor, group_ids: torch.Tensor, keep: torch.Tensor):
    """GFPO: A_i = (r_i - mean_kept) / (std_kept + 1e-6) for kept rows, 0 for dropped rows;
    mean and unbiased std over the kept rows of the group only. Shapes (B,)."""
    adv = torch.zeros_like(rewards)
    for g in group_ids.unique():
        rows = ((group_ids == g) & keep).nonzero().squeeze(1)
        if len(rows) == 0:
            continue
        r = rewards[rows]
        std = r.std() if len(rows) > 1 else torch.zeros(())
        adv[rows] = (r - r.mean()) / (std + 1e-6)
    return adv
