"""Teacher-forcing batches: a prompt and a given completion encoded as a rollout encodes them."""

from __future__ import annotations

import torch

from priorlab.rollout import Samples, left_pad


def encode_pairs(
    tok,
    prompts: list[str],
    completions: list[str | list[int]],
    *,
    max_len: int,
    prefixes: list[list[int]] | None = None,
) -> Samples:
    """Teacher-forcing batch: left-padded prompts, right-padded completions + EOS.

    Completions are cut so that prompt + completion fits in `max_len` tokens; a completion
    given as ids (RCRL's step-labelled ones) is taken as is.
    """
    prompt_ids = []
    for i, p in enumerate(prompts):
        ids = tok.encode(p)
        if prefixes is not None and prefixes[i]:
            ids = [*prefixes[i], *ids[1:]]  # as in rollout: the condition replaces BOS
        prompt_ids.append(ids)
    prompt, prompt_mask = left_pad(prompt_ids, tok.pad_id)
    resp = [
        ([*(c if isinstance(c, list) else tok.encode(c, bos=False)), tok.eos_id])[
            : max(1, max_len - len(p))
        ]
        for p, c in zip(prompt_ids, completions)
    ]
    T = max(len(r) for r in resp)
    response = torch.full((len(resp), T), tok.pad_id, dtype=torch.long)
    mask = torch.zeros(len(resp), T)
    for i, r in enumerate(resp):
        response[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1.0
    zeros = torch.zeros(len(resp), T)
    lengths = mask.sum(1).long()
    return Samples(prompt, prompt_mask, response, mask, zeros, zeros, lengths, lengths < 0)
