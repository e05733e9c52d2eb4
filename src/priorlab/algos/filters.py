"""Filters and shaping applied between reward and advantage."""

from __future__ import annotations

import torch

from priorlab.algos.advantages import group_stats


def mixed_groups(correct: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
    """(B,) bool: rows whose group is neither all correct nor all wrong (DAPO dynamic sampling).

    Judged on the raw verifier result `correct`, never on the shaped reward. Yu et al. 2025.
    """
    mean, _, _ = group_stats(correct.float(), group_ids)
    return (mean > 0) & (mean < 1)


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
