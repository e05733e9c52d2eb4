"""Batched, KV-cached sampling and the batch that carries a step's samples to the update.

The sampler is the hot path: one prefill over the distinct left-padded prompts (the G
copies of a prompt in a group share it), then one `decode_step` per new token into a
preallocated cache, stopping when every row has emitted EOS. Log-probs are recorded under
the temperature-scaled distribution (before top-p truncation), the same distribution the
update recomputes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from priorlab.errors import Diverged, PriorlabError
from priorlab.models import Policy


@dataclass
class Samples:
    """What the sampler returns for B prompts; response tensors are (B, T)."""

    prompt: torch.Tensor  # (B, P) left-padded prompt ids
    prompt_mask: torch.Tensor  # (B, P) bool, real prompt tokens
    response: torch.Tensor  # (B, T) sampled ids, pad after EOS
    mask: torch.Tensor  # (B, T) float, 1 on generated tokens (EOS included)
    logp: torch.Tensor  # (B, T) log-prob of each sampled token under the sampling policy
    entropy: torch.Tensor  # (B, T) entropy of the sampling distribution at each step
    lengths: torch.Tensor  # (B,) generated tokens
    truncated: torch.Tensor  # (B,) bool, hit max_new_tokens before EOS


@dataclass
class Batch:
    """One step's samples; each stage fills its fields (rewards, adv, ...). Every optional
    tensor has one row per completion: (B,) or (B, T)."""

    samples: Samples
    problems: list  # (B,) the Problem each row answers
    group_ids: torch.Tensor  # (B,) rows with equal id share a prompt
    texts: list[str]  # (B,) decoded completions
    rewards: torch.Tensor | None = None  # (B,) shaped reward driving training
    correct: torch.Tensor | None = None  # (B,) bool, raw verifier result
    parsed: torch.Tensor | None = None  # (B,) bool, an answer could be extracted
    answers: list = field(default_factory=list)  # (B,) extracted answers
    adv: torch.Tensor | None = None  # (B,) or (B, T)
    token_adv: torch.Tensor | None = None  # (B, T) the reward source's own advantages
    keep: torch.Tensor | None = None  # (B,) bool rows or (B, T) tokens the update learns from
    ref_logp: torch.Tensor | None = None  # (B, T) the KL reference's log-probs
    values: torch.Tensor | None = None  # (B, T) the critic's values at sampling time
    returns: torch.Tensor | None = None  # (B, T) GAE returns, the critic's targets
    loss_mask: torch.Tensor | None = None  # (B, T) tokens the policy loss counts
    roles: Batch | None = None  # the policy's samples in another role (SERL's judge ...)
    metrics: dict = field(default_factory=dict)  # what the reward source reports of itself
    teacher_logp: torch.Tensor | None = None  # (B, T, V) a teacher's next-token log-probs
    sampler_logp: torch.Tensor | None = None  # (B, T) a separate engine's (vLLM) log-probs
    divergence: Callable | None = None  # (student, teacher) (B, T, V) -> (B, T), SDPO's jsd
    extra: Batch | None = None  # (B rows) trained alongside with their own token_adv (VeriFree)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def mask(self) -> torch.Tensor:
        return self.samples.mask

    def select(self, keep: torch.Tensor) -> Batch:
        """The rows where `keep` (B,) is True, every field sliced alike."""
        idx = keep.nonzero().squeeze(1)
        ix = idx.tolist()
        s = self.samples
        samples = Samples(*(getattr(s, f)[idx] for f in s.__dataclass_fields__))
        rows = {
            name: None if getattr(self, name) is None else getattr(self, name)[idx]
            for name in ROW_TENSORS
        }
        return Batch(
            samples,
            [self.problems[i] for i in ix],
            self.group_ids[idx],
            [self.texts[i] for i in ix],
            answers=[self.answers[i] for i in ix] if self.answers else [],
            roles=self.roles,
            metrics=self.metrics,
            divergence=self.divergence,
            extra=None if self.extra is None else self.extra.select(keep),
            **rows,
        )


# Batch's optional per-row tensors, sliced by select and joined by cat_batches.
ROW_TENSORS = (
    "rewards",
    "correct",
    "parsed",
    "adv",
    "token_adv",
    "keep",
    "ref_logp",
    "values",
    "returns",
    "loss_mask",
    "teacher_logp",
    "sampler_logp",
)


def cat_batches(batches: list[Batch]) -> Batch:
    """Concatenate batches, padding prompts and responses to one width.

    Per-row advantages become per-token when any batch has per-token ones; an optional
    field is kept when every batch has it; roles (and extra rows, when every batch has
    them) are concatenated too.
    """
    if len(batches) == 1:
        return batches[0]
    P = max(b.samples.prompt.shape[1] for b in batches)
    T = max(b.samples.response.shape[1] for b in batches)

    def pad(t, width, left=False, value=0):
        gap = width - t.shape[1]
        return F.pad(t, (gap, 0) if left else (0, gap), value=value) if gap else t

    def cat_rows(ts):
        if any(t.dim() == 3 for t in ts):  # (B, T, V): pad the positions
            return torch.cat([F.pad(t, (0, 0, 0, T - t.shape[1])) for t in ts])
        if any(t.dim() == 2 for t in ts):
            ts = [pad(t[:, None].expand(-1, T) if t.dim() == 1 else t, T) for t in ts]
        return torch.cat(ts)

    def field_(name):
        ts = [getattr(b.samples, name) for b in batches]
        if name in ("prompt", "prompt_mask"):
            return torch.cat([pad(t, P, left=True) for t in ts])
        return cat_rows(ts)

    samples = Samples(*(field_(f) for f in Samples.__dataclass_fields__))

    def cat(name):  # a field some batch lacks is left out, as it cannot be joined
        ts = [getattr(b, name) for b in batches]
        return None if any(t is None for t in ts) else cat_rows(ts)

    roles = [b.roles for b in batches if b.roles is not None]
    extras = [b.extra for b in batches]
    offset, group_ids = 0, []
    for b in batches:  # keep groups of different batches apart
        group_ids.append(b.group_ids + offset)
        offset += int(b.group_ids.max()) + 1 if len(b) else 0
    return Batch(
        samples,
        [p for b in batches for p in b.problems],
        torch.cat(group_ids),
        [t for b in batches for t in b.texts],
        answers=[a for b in batches for a in (b.answers or [None] * len(b))],
        roles=cat_batches(roles) if roles else None,
        metrics={k: v for b in batches for k, v in b.metrics.items()},
        divergence=next((b.divergence for b in batches if b.divergence is not None), None),
        extra=None if any(e is None for e in extras) else cat_batches(extras),
        **{name: cat(name) for name in ROW_TENSORS},
    )


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
    """Teacher-forced log-probs (B, T), entropies (B, T) and values (B, T) or None.

    Logits at position P-1+t predict response token t; values are read at the same
    positions (the state before the token is chosen).
    """
    tokens = torch.cat([samples.prompt, samples.response], 1)  # (B, P+T)
    key_valid = torch.cat([samples.prompt_mask, samples.mask.bool()], 1)
    T = samples.response.shape[1]
    logits, v = policy.model(tokens, key_valid, last=T + 1)  # positions P-1 .. P+T-1
    logits = logits[:, :T].float() / max(temperature, 1e-8)  # (B, T, V)
    logprobs = F.log_softmax(logits, -1)
    logp = logprobs.gather(-1, samples.response[..., None]).squeeze(-1)
    entropy = -(logprobs.exp() * logprobs).sum(-1)
    values = v[:, :T] if (values and v is not None) else None
    return logp, entropy, values
