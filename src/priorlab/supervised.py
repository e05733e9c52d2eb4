"""The cross-entropy step that pretraining and the offline algorithms (SFT, EI, RCRL) take."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from priorlab.algos import losses
from priorlab.checks import check_finite, check_weights
from priorlab.rollout import Samples


def lm_loss(
    policy,
    samples: Samples,
    *,
    include_prompt: bool,
    per_token_loss=losses.nll,
    aggregate=losses.token_mean,
    forced: tuple[int, ...] = (),
) -> torch.Tensor:
    """Cross-entropy on the completion (and on the prompt when include_prompt): the
    per-token loss of the targets' log-probs (nll: -log p) aggregated over the target tokens
    (token_mean by default; an offline algorithm's preset names both, see offline.py).

    `forced`: ids that are never targets, though they stay in the context: tokens the
    sampler writes in place of a draw (RCRL's per-step return tokens), so the policy is
    conditioned on them, not taught to guess them."""
    tokens = torch.cat([samples.prompt, samples.response], 1)  # (B, P+T)
    valid = torch.cat([samples.prompt_mask, samples.mask.bool()], 1)
    logits, _ = policy.model(tokens, valid)
    P = samples.prompt.shape[1]
    target_mask = valid[:, 1:].float()
    if not include_prompt:
        target_mask[:, : P - 1] = 0.0
    if forced:
        ids = torch.tensor(forced, device=tokens.device, dtype=torch.long)
        target_mask[torch.isin(tokens[:, 1:], ids)] = 0.0
    logp = -F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), reduction="none"
    ).view_as(target_mask)
    return aggregate(per_token_loss(logp), target_mask)


def sft_step(
    policy,
    opt,
    samples: Samples,
    *,
    include_prompt: bool = False,
    max_grad_norm: float = 1.0,
    where: str = "the fine-tuning step",
    parts=None,
    forced: tuple[int, ...] = (),
) -> float:
    """One cross-entropy step; returns the loss. `parts`: an offline algorithm's bound
    per-token loss and aggregation (algos.Parts; None: token-mean NLL); `forced`: ids that
    are not targets (lm_loss). Diverged (naming `where`) on a non-finite loss, gradient or
    updated weight."""
    bound = (
        {}
        if parts is None
        else dict(per_token_loss=parts.per_token_loss, aggregate=parts.aggregate)
    )
    loss = lm_loss(policy, samples, include_prompt=include_prompt, forced=forced, **bound)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(policy.model.parameters(), max_grad_norm)
    check_finite(loss, norm, where)
    opt.step()
    check_weights(policy.model, where)
    return loss.item()
