"""Checks made while a run goes: the overlong window against the task's gold solutions, and
Diverged on a non-finite loss, gradient or weight."""

from __future__ import annotations

import torch

from priorlab.config import TrainConfig, check
from priorlab.errors import Diverged


def check_overlong_window(algo, cfg: TrainConfig, pool: list, tokenizer) -> None:
    """DAPO's overlong window must start beyond the task's longest gold solution (in sampled
    tokens, EOS included), or it punishes correct answers; ConfigError naming both numbers."""
    longest = max(len(tokenizer.encode(p.solution, bos=False)) + 1 for p in pool)
    free = cfg.max_new_tokens - algo.overlong_cache
    check(
        free >= longest,
        "algo.overlong_cache",
        f"the overlong window starts at max_new_tokens - overlong_cache = {free} tokens, but "
        f"the task's longest gold solution is {longest} tokens: correct answers would be "
        f"punished; set max_new_tokens >= {longest + algo.overlong_cache} or lower overlong_cache",
    )


def check_finite(loss: torch.Tensor, grad_norm: torch.Tensor, where: str) -> None:
    """Raise Diverged before an optimiser step that would write non-finite weights."""
    if not (torch.isfinite(loss) and torch.isfinite(grad_norm)):
        raise Diverged(
            f"{where}: loss {loss.item()}, gradient norm {grad_norm.item()} (not finite): "
            "training diverged; lower the learning rate (lr)"
        )


def check_weights(model, where: str) -> None:
    """Raise Diverged after an optimiser step that wrote non-finite weights (a finite
    gradient times a huge learning rate overflows)."""
    with torch.no_grad():
        bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise Diverged(
            f"{where}: {len(bad)} weight tensors are not finite after the update ({bad[0]}, "
            "...): training diverged; lower the learning rate (lr)"
        )
