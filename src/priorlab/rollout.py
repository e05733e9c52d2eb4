"""Batched, KV-cached sampling, and teacher-forced log-probs of what was sampled.

The sampler is the hot path: one prefill over the distinct left-padded prompts (the G
copies of a prompt in a group share it), then one `decode_step` per new token into a
preallocated cache, stopping when every row has emitted EOS. Log-probs are recorded under
the temperature-scaled distribution (before top-p truncation), the same distribution the
update recomputes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from priorlab.batch import Batch, Samples
from priorlab.errors import Diverged, PriorlabError
from priorlab.models import Policy


def left_pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, P) ids and (B, P) bool mask, each row right-aligned."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    valid = torch.zeros((len(seqs), width), dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
        valid[i, width - len(s) :] = True
    return ids, valid


@torch.no_grad()
def sample(
    policy: Policy,
    prompts: list[list[int]],
    *,
    max_new_tokens: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_p: float = 1.0,
) -> Samples:
    """Sample one completion per prompt. temperature 0 is greedy decoding.

    Deterministic for a given generator state. Rows stop at EOS; once a quarter of the
    rows still decoded have stopped, they leave the batch and the cache. The loop ends when
    all rows have stopped or after `max_new_tokens`.

    A policy trained with RCRL's step labels (`policy.meta["condition_steps"]`: the ids of
    its task's step marks) opens every step with the prompt's return token: the first new
    token, and each token after a mark, is that token instead of a draw (its log-prob is
    recorded like a drawn one's; decoding skips it; it takes no position, as in training).
    """
    model, tok = policy.model, policy.tokenizer
    was_training = model.training
    model.eval()
    device = model.head.weight.device
    prompt, prompt_mask = left_pad(prompts, tok.pad_id)
    prompt, prompt_mask = prompt.to(device), prompt_mask.to(device)
    B, P = prompt.shape
    max_new_tokens = min(max_new_tokens, model.cfg.max_len - P)
    key_valid = torch.zeros(B, P + max_new_tokens, dtype=torch.bool, device=device)
    key_valid[:, :P] = prompt_mask
    first, copy_of = _distinct(prompts, device)  # a group's G copies of a prompt are prefilled once
    cache = model.new_cache(len(first), P + max_new_tokens)
    logits = model(prompt[first], prompt_mask[first], cache)[0][:, -1]  # (U, V)
    if len(first) < B:
        cache.select(copy_of)
        logits = logits[copy_of]  # (B, V)

    tokens = torch.full((B, max_new_tokens), tok.pad_id, dtype=torch.long, device=device)
    logps = torch.zeros(B, max_new_tokens, device=device)
    ents = torch.zeros(B, max_new_tokens, device=device)
    resp_mask = torch.zeros(B, max_new_tokens, device=device)
    truncated = torch.zeros(B, dtype=torch.bool, device=device)
    rows = torch.arange(B, device=device)  # original index of each row still decoded
    alive = torch.ones(B, dtype=torch.bool, device=device)
    opens, marks = _step_condition(policy, prompts, device)
    force = torch.ones(B, dtype=torch.bool, device=device)  # a completion starts with a step
    steps = 0
    for t in range(max_new_tokens):
        logprobs = F.log_softmax(logits.float() / max(temperature, 1e-8), dim=-1)  # (b, V)
        if torch.isnan(logprobs).any():  # overflowed weights: sampling would be garbage
            raise Diverged(
                "the policy's next-token distribution is NaN (its weights or activations "
                "overflowed): training diverged; lower the learning rate (lr)"
            )
        probs = logprobs.exp()
        if temperature == 0:
            nxt = logits.argmax(-1)
        else:
            nxt = _draw(_top_p(probs, top_p), generator)
        if opens is not None:
            nxt = torch.where(force, opens, nxt)
            force = torch.isin(nxt, marks)
        nxt = torch.where(alive, nxt, tok.pad_id)
        tokens[rows, t] = nxt
        logps[rows, t] = logprobs.gather(1, nxt[:, None]).squeeze(1) * alive
        ents[rows, t] = -(probs * logprobs).sum(-1) * alive
        resp_mask[rows, t] = alive.float()
        key_valid[:, P + t] = alive
        alive = alive & (nxt != tok.eos_id)
        steps = t + 1
        if not alive.any():
            break
        if t + 1 == max_new_tokens:
            truncated[rows[alive]] = True
            break
        if alive.sum() <= 0.75 * len(rows):  # drop finished rows from the batch and cache
            keep = alive.nonzero().squeeze(1)
            rows, nxt, alive, key_valid = rows[keep], nxt[keep], alive[keep], key_valid[keep]
            if opens is not None:
                opens, force = opens[keep], force[keep]
            cache.select(keep)
        logits = model.decode_step(nxt, key_valid[:, : P + t + 1], cache)

    mask = resp_mask[:, :steps]
    model.train(was_training)
    return Samples(
        prompt=prompt,
        prompt_mask=prompt_mask,
        response=tokens[:, :steps],
        mask=mask,
        logp=logps[:, :steps],
        entropy=ents[:, :steps],
        lengths=mask.sum(1).long(),
        truncated=truncated,
    )


def _step_condition(policy: Policy, prompts: list[list[int]], device):
    """(B,) the return token each row's steps open with (its prompt's first token), and the
    step marks' ids; (None, None) unless the policy labels steps and every prompt starts with
    a return token (an unconditioned prompt samples freely)."""
    marks = policy.meta.get("condition_steps")
    returns = set(getattr(policy.tokenizer, "return_ids", ()))
    if not marks or not all(p and p[0] in returns for p in prompts):
        return None, None
    opens = torch.tensor([p[0] for p in prompts], device=device)
    return opens, torch.tensor(marks, device=device)


def _distinct(prompts: list[list[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Row of each distinct prompt's first copy (U,), and the distinct prompt of each row (B,)."""
    index: dict[tuple, int] = {}
    copy_of = [index.setdefault(tuple(p), len(index)) for p in prompts]
    first = [0] * len(index)
    for row, u in reversed(list(enumerate(copy_of))):
        first[u] = row
    return torch.tensor(first, device=device), torch.tensor(copy_of, device=device)


def _draw(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One token per row (B,) by inverse-CDF sampling: exact, and cheaper than multinomial."""
    cdf = probs.cumsum(-1)  # (B, V)
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device) * cdf[:, -1:]
    return (cdf <= u).sum(-1).clamp(max=probs.shape[1] - 1)


def _top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero the tail of each row outside the smallest set with mass >= top_p (B, V)."""
    if top_p >= 1.0:
        return probs
    sorted_p, order = probs.sort(-1, descending=True)
    outside = sorted_p.cumsum(-1) - sorted_p >= top_p  # mass before this token already enough
    sorted_p = sorted_p.masked_fill(outside, 0.0)
    return torch.zeros_like(probs).scatter(-1, order, sorted_p)


def rollout(
    policy: Policy,
    problems: list,
    *,
    group_size: int,
    max_new_tokens: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_p: float = 1.0,
    prefix: list[int] | None = None,
    engine=None,
) -> Batch:
    """`group_size` samples for each problem; rows of one problem share a group id.

    `prefix` tokens (e.g. an RCRL return token) take the place of BOS, so the prompt keeps
    the positions the prior learned it at. `engine`: another generation engine (vLLM) that
    samples instead of `sample`; the batch then carries the trainer's recomputed log-probs
    in `samples.logp` and the engine's own in `sampler_logp`.
    """
    tok = policy.tokenizer
    rows = [p for p in problems for _ in range(group_size)]
    prompts = [_prompt_ids(tok, p.prompt, prefix) for p in rows]
    for problem, ids in zip(rows[::group_size], prompts[::group_size]):
        if len(ids) >= policy.model.cfg.max_len:  # no room for a single new token
            raise too_long(problem, len(ids), max_new_tokens, policy.model.cfg.max_len)
    sampling = dict(
        max_new_tokens=max_new_tokens, generator=generator, temperature=temperature, top_p=top_p
    )
    sampler_logp = None
    if engine is None:
        samples = sample(policy, prompts, **sampling)
    else:
        samples, sampler_logp = engine.rollout(policy, prompts, **sampling)
    texts = [tok.decode(r) for r in samples.response.tolist()]
    group_ids = torch.arange(len(problems)).repeat_interleave(group_size)
    return Batch(samples, rows, group_ids, texts, sampler_logp=sampler_logp)


def check_context(
    policy: Policy, problems: list, *, max_new_tokens: int, prefix: list[int] | None = None
) -> None:
    """PriorlabError naming the first problem whose prompt + max_new_tokens exceeds the
    model's positions. Call it once on each problem pool before sampling: otherwise a prompt
    that does not fit fails deep inside the model, or has its completions cut short."""
    context = policy.model.cfg.max_len
    for problem in problems:
        n = len(_prompt_ids(policy.tokenizer, problem.prompt, prefix))
        if n + max_new_tokens > context:
            raise too_long(problem, n, max_new_tokens, context)


def too_long(problem, n: int, max_new_tokens: int, context: int) -> PriorlabError:
    """The error for a prompt of n tokens that, with max_new_tokens, overflows the context:
    it names what the user can change (lowering max_new_tokens helps only when n < context)."""
    fixes = "use a model with a longer context (pretrain max_len, or a larger model)"
    fixes += ", or shorter prompts (task_params)"
    if n < context:
        fixes = f"lower max_new_tokens to at most {context - n}, {fixes}"
    return PriorlabError(
        f"prompt of problem {problem.id} is {n} tokens (+ max_new_tokens {max_new_tokens}) "
        f"but the model holds {context} positions; {fixes}"
    )


def _prompt_ids(tok, text: str, prefix: list[int] | None) -> list[int]:
    ids = tok.encode(text)
    return [*prefix, *ids[1:]] if prefix else ids  # a condition token takes BOS's place


def sequence_logp(policy: Policy, samples: Samples, *, temperature: float = 1.0, values=False):
    """Teacher-forced log-probs (B, T), entropies (B, T) and values (B, T) or None."""
    logprobs, v = next_token_logprobs(policy, samples, temperature=temperature, values=values)
    return (*picked(logprobs, samples.response), v)


def next_token_logprobs(policy, samples: Samples, *, temperature: float = 1.0, values=False):
    """log pi(. | prompt, response_<t) at every response position (B, T, V), and the values
    (B, T) or None. Logits at position P-1+t predict response token t; values are read at
    the same positions (the state before the token is chosen)."""
    tokens = torch.cat([samples.prompt, samples.response], 1)  # (B, P+T)
    key_valid = torch.cat([samples.prompt_mask, samples.mask.bool()], 1)
    T = samples.response.shape[1]
    logits, v = policy.model(tokens, key_valid, last=T + 1)  # positions P-1 .. P+T-1
    logprobs = F.log_softmax(logits[:, :T].float() / max(temperature, 1e-8), -1)  # (B, T, V)
    return logprobs, (v[:, :T] if (values and v is not None) else None)


def picked(logprobs: torch.Tensor, response: torch.Tensor):
    """The sampled tokens' log-probs (B, T) and the distributions' entropies (B, T)."""
    logp = logprobs.gather(-1, response[..., None]).squeeze(-1)
    return logp, -(logprobs.exp() * logprobs).sum(-1)
