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
